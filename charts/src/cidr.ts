/** An IPv4 CIDR block: its network address as a 32-bit number and its prefix length. */
export interface Ipv4Cidr {
  /** The CIDR as written, e.g. `10.244.0.0/16`. */
  readonly text: string;
  /** The network address, an unsigned 32-bit number. */
  readonly network: number;
  /** The prefix length, 0–32. */
  readonly prefix: number;
}

/**
 * Parses an IPv4 CIDR such as `203.0.113.0/24`. Fails naming `field` when it is not one, or when bits below the prefix
 * are set (`10.0.0.1/8` means `10.0.0.0/8`; writing the network address keeps the reviewed value unambiguous).
 */
export function parseIpv4Cidr(text: string, field: string): Ipv4Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || prefix > 32) {
    throw new Error(`${field} '${text}' is not an IPv4 CIDR: write e.g. 203.0.113.0/24.`);
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const network = address - (address % 2 ** (32 - prefix));
  if (network !== address) {
    throw new Error(
      `${field} '${text}' has bits set below its /${prefix} prefix: write ${formatIpv4(network)}/${prefix}.`,
    );
  }
  return { text, network, prefix };
}

/** True when every address of `inner` is in `outer` (a block contains itself). */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  if (inner.prefix < outer.prefix) return false;
  const size = 2 ** (32 - outer.prefix);
  return inner.network - (inner.network % size) === outer.network;
}

function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
