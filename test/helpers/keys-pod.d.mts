export interface KeysPod {
  fernetSecret: string;
  credentialSecret: string;
  fernetRepo: string;
  credentialRepo: string;
  env: Record<string, string>;
}
export function keysPod(base: string, fernetFiles: Record<string, string>, credentialFiles: Record<string, string>): KeysPod;
