// The types as a CommonJS module sees them (index.d.ts).
import sqliteTriggers = require('sqlite-triggers');

const path: string = sqliteTriggers.getLoadablePath();
sqliteTriggers.load({ loadExtension(p: string) { return p; } });
// @ts-expect-error load needs a connection with loadExtension(path)
sqliteTriggers.load(42);
// @ts-expect-error there is no default export in CommonJS
sqliteTriggers.default;
export = path;
