// Types of scripts/elf-glibc.mjs, for the tests.
export function glibcVersionsNeeded(buf: Buffer): string[];
export function highestGlibc(buf: Buffer): string | undefined;
export function compareVersions(a: string, b: string): number;
