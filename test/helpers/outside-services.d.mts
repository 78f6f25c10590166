export function outsideServices(doc: string, ip: string, ports: Record<string, number>, drop?: string[]): string;
