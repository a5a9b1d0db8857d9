import { cidrContains, parseIpv4Cidr } from '../src/cidr';

const cidr = (text: string) => parseIpv4Cidr(text, "'field'");

describe('parseIpv4Cidr', () => {
  it('reads the network address and prefix length', () => {
    expect(cidr('10.244.0.0/16')).toEqual({
      text: '10.244.0.0/16',
      network: 10 * 2 ** 24 + 244 * 2 ** 16,
      prefix: 16,
    });
    expect(cidr('0.0.0.0/0')).toEqual({ text: '0.0.0.0/0', network: 0, prefix: 0 });
    expect(cidr('255.255.255.255/32').network).toBe(2 ** 32 - 1);
  });

  it.each([
    '10.0.0.0',
    '10.0.0/8',
    '256.0.0.0/8',
    '10.0.0.0/33',
    ' 10.0.0.0/8',
    '10.0.0.0/8 ',
    '10.0.0.0/328',
    '::/0',
  ])('fails when %j is not an IPv4 CIDR, naming the field', (text) => {
    expect(() => cidr(text)).toThrow(`'field' '${text}' is not an IPv4 CIDR: write e.g. 203.0.113.0/24.`);
  });

  it('fails when bits below the prefix are set, naming the network address to write', () => {
    expect(() => cidr('10.0.0.1/8')).toThrow(
      "'field' '10.0.0.1/8' has bits set below its /8 prefix: write 10.0.0.0/8.",
    );
    expect(() => cidr('192.168.49.1/24')).toThrow('write 192.168.49.0/24.');
  });
});

describe('cidrContains', () => {
  it.each([
    ['0.0.0.0/0', '10.244.0.0/16', true],
    ['10.0.0.0/8', '10.244.0.0/16', true],
    ['10.244.0.0/16', '10.244.0.0/16', true],
    ['10.244.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/16', '10.0.0.0/8', false],
    ['172.16.0.0/12', '172.32.0.0/16', false],
    ['172.16.0.0/12', '172.31.255.0/24', true],
    ['203.0.113.0/24', '203.0.113.7/32', true],
    ['203.0.113.0/24', '203.0.114.0/32', false],
  ])('%s contains %s: %s', (outer, inner, expected) => {
    expect(cidrContains(cidr(outer), cidr(inner))).toBe(expected);
  });
});
