// Types of the ES module entry (index.mjs): the CommonJS entry's, and a default export.
import { getLoadablePath, load } from './index.js';

export { getLoadablePath, load };
export type { ExtensionLoadingDatabase } from './index.js';

declare const sqliteTriggers: {
  getLoadablePath: typeof getLoadablePath;
  load: typeof load;
};
export default sqliteTriggers;
