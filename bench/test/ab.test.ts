import { parseVariant, positive } from '../src/ab';

describe('bench:ab --variant', () => {
  it('takes a name, an optional entry file and environment overrides', () => {
    const v = parseVariant(
      'before:/tmp/old/build/service/src/server.js,NODE_OPTIONS=--max-semi-space-size=2,X=a=b',
    );
    expect(v.name).toBe('before');
    expect(v.command).toEqual({ args: ['/tmp/old/build/service/src/server.js'], kind: 'build' });
    expect(v.env).toEqual({ NODE_OPTIONS: '--max-semi-space-size=2', X: 'a=b' });
  });

  it("runs this checkout's service when no entry is given", () => {
    const v = parseVariant('after');
    expect(v.command.args.at(-1)).toMatch(/service\/src\/server\.(js|ts)$/);
    expect(v.env).toEqual({});
  });

  it('refuses a spec it cannot read, naming the fix', () => {
    expect(() => parseVariant('')).toThrow('a variant starts with a name');
    expect(() => parseVariant('a:server')).toThrow('must be a .js or .ts file');
    expect(() => parseVariant('a,NODE_OPTIONS')).toThrow('write KEY=VALUE');
  });
});

describe('bench:ab numeric options', () => {
  it('take positive numbers (whole ones for counts) and name the flag otherwise', () => {
    expect(positive('--seconds', false)('2.5')).toBe(2.5);
    expect(positive('--rounds', true)('3')).toBe(3);
    expect(() => positive('--seconds', false)('x')).toThrow("--seconds must be a positive number (got 'x')");
    expect(() => positive('--rounds', true)('1.5')).toThrow('--rounds must be a positive whole number');
    expect(() => positive('--connections', true)('0')).toThrow(
      '--connections must be a positive whole number',
    );
  });
});
