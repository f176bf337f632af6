// Types of build-ui.mjs for the gateway's TypeScript.
export declare const UI_DIR: string;
export declare const DEFAULT_DIST_DIR: string;
/** Why dist must be built again, or null when it is up to date. */
export declare function staleReason(distDir?: string): string | null;
export declare function buildUi(options?: { distDir?: string; minify?: boolean }): Promise<{ distDir: string; script: string; style: string; bytes: number; ms: number }>;
