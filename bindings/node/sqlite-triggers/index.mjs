// The ES module entry: the same functions as the CommonJS one (index.js).
import sqliteTriggers from './index.js';

export const { getLoadablePath, load } = sqliteTriggers;
export default sqliteTriggers;
