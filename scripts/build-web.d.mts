export declare const distDir: string;
export declare function sourceHash(): Promise<string>;
export declare function ensureWebBuild(o?: { force?: boolean; log?: (m: string) => void }): Promise<boolean>;
