// Python's whitespace: str.isspace() and the strips ConfigParser applies to names and values.

// Python's str.strip() and re's \s use str.isspace(), which differs from JavaScript's
// \s (no U+FEFF, but U+0085 and U+001C..U+001F count).
function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

export function leadingSpace(s: string): number {
  let i = 0;
  while (i < s.length && isPySpace(s.charCodeAt(i))) i++;
  return i;
}
export function trailingSpaceStart(s: string): number {
  let i = s.length;
  while (i > 0 && isPySpace(s.charCodeAt(i - 1))) i--;
  return i;
}
export function pyLstrip(s: string): string {
  return s.slice(leadingSpace(s));
}
export function pyRstrip(s: string): string {
  return s.slice(0, trailingSpaceStart(s));
}
export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}
