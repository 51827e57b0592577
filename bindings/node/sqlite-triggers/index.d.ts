/** A connection whose loadExtension(path) loads synchronously: better-sqlite3's or libsql's Database. */
export interface ExtensionLoadingDatabase {
  loadExtension(path: string): unknown;
}

/**
 * The path of the extension built for this platform (inside the package
 * sqlite-triggers-<platform>-<arch>), for a SQLite binding's loadExtension.
 * Throws an Error whose code is SQLITE_TRIGGERS_UNSUPPORTED_PLATFORM when no
 * prebuilt extension exists for this platform, and
 * SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING when its package is not installed.
 */
export declare function getLoadablePath(): string;

/**
 * Loads the extension into db: db.loadExtension(getLoadablePath()).
 * For node-sqlite3, whose loadExtension is asynchronous, call
 * db.loadExtension(getLoadablePath(), callback) instead.
 */
export declare function load(db: ExtensionLoadingDatabase): void;
