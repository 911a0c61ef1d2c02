const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Bytes as lowercase hex without separators. */
export function hexOf(d: Uint8Array, at: number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += HEX[d[at + i]!];
  return text;
}

/** A link address as colon-separated hex ("02:00:5e:10:00:01"). */
export function formatMac(d: Uint8Array, at: number, length: number): string {
  const parts: string[] = [];
  for (let i = 0; i < length; i++) parts.push(HEX[d[at + i]!]!);
  return parts.join(":");
}

/** An IPv4 (length 4) or IPv6 (length 16) address in its usual text form. */
export function formatIp(d: Uint8Array, at: number, length: number): string {
  return length === 4 ? formatIpv4(d, at) : formatIpv6(d, at);
}

function formatIpv4(d: Uint8Array, at: number): string {
  return `${d[at]}.${d[at + 1]}.${d[at + 2]}.${d[at + 3]}`;
}

/**
 * RFC 5952 text, as inet_ntop and tshark print it: lowercase, the longest run of two or more zero groups
 * (the first of equals) as "::", and IPv4-mapped and -compatible addresses with a dotted tail.
 */
export function formatIpv6(d: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((d[at + 2 * i]! << 8) | d[at + 2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestStart = -1;
  const dottedTail = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff));
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += "::";
      i += bestLength - 1;
      continue;
    }
    if (dottedTail && i === 6) {
      text += `${text.endsWith(":") ? "" : ":"}${formatIpv4(d, at + 12)}`;
      break;
    }
    if (text.length > 0 && !text.endsWith(":")) text += ":";
    text += groups[i]!.toString(16);
  }
  return text;
}
