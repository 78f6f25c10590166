export function secretVolume(dir: string, files: Record<string, string | Buffer>, mode?: number): string;
export function updateSecretVolume(dir: string, files: Record<string, string | Buffer>, mode?: number): void;
export function keyVolume(dir: string, keys: readonly string[]): string;
