// The types as an ES module sees them (index.d.mts).
import sqliteTriggers, { getLoadablePath, load } from 'sqlite-triggers';
import type { ExtensionLoadingDatabase } from 'sqlite-triggers';

const path: string = getLoadablePath();
const db: ExtensionLoadingDatabase = { loadExtension(p: string) { return p; } };
load(db);
sqliteTriggers.load(db);
const again: string = sqliteTriggers.getLoadablePath();
// @ts-expect-error load needs a connection with loadExtension(path)
load({});
// @ts-expect-error getLoadablePath returns a string
const wrong: number = getLoadablePath();
export { path, again, wrong };
