import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** One secret-looking value: where it is and which rule matched (the value itself is never reported). */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
  readonly detail: string;
}

/** Known credential formats; any occurrence in generated or CI files is a leak. */
const TOKEN_PATTERNS: readonly { rule: string; re: RegExp }[] = [
  { rule: 'private-key', re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  { rule: 'github-token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b/ },
  { rule: 'aws-access-key-id', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { rule: 'slack-token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/ },
  { rule: 'google-api-key', re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { rule: 'jwt', re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { rule: 'bearer-token', re: /\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{20,}/ },
  { rule: 'databricks-token', re: /\bdapi[0-9a-f]{32}\b/ },
  { rule: 'openai-style-key', re: /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b/ },
  { rule: 'url-credentials', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]+@/i },
];

/**
 * A mapping key that names a credential: the last word of the key (camelCase, snake_case or kebab-case)
 * is password/secret/token/... — so `password` and `mlflowToken` match, `secretName` and `tokenPath` do not.
 */
export function isSensitiveKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const last = words[words.length - 1] ?? '';
  const lastTwo = words.slice(-2).join('');
  return (
    [
      'password',
      'passwd',
      'pwd',
      'secret',
      'token',
      'apikey',
      'credential',
      'credentials',
      'passphrase',
    ].includes(last) || ['apikey', 'accesskey', 'privatekey', 'secretkey', 'clientsecret'].includes(lastTwo)
  );
}

/** Values that point at a secret instead of containing one (workflow expressions, env expansion, empty). */
export function isReference(value: string): boolean {
  const v = value.trim();
  return (
    v === '' ||
    /^\$\{\{\s*(?:secrets|github|inputs|vars|env|steps|needs)\.[^}]*\}\}$/.test(v) ||
    /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(v) ||
    /^\$\([A-Za-z_][A-Za-z0-9_]*\)$/.test(v) ||
    /^<[^>]+>$/.test(v)
  );
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * A long random-looking base64/base64url blob: 40+ characters of the base64 alphabet with upper and
 * lower case and high entropy (≥ 4.5 bits/char; English identifiers stay near 4). Hex digests (sha256 pins, image digests) are not blobs.
 */
export function isHighEntropyBlob(s: string): boolean {
  return (
    s.length >= 40 &&
    /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) &&
    /[a-z]/.test(s) &&
    /[A-Z]/.test(s) &&
    entropy(s) >= 4.5
  );
}

function lineOf(text: string, offset: number | undefined): number {
  if (offset === undefined) return 0;
  return text.slice(0, offset).split('\n').length;
}

interface Ctx {
  readonly file: string;
  readonly text: string;
  /** `kind` of the Kubernetes object being walked, if any. */
  readonly kind: string | undefined;
  readonly out: Finding[];
}

/** Walks a parsed YAML node tree (kept as nodes, not plain JS, so findings carry line numbers). */
function walk(node: unknown, ctx: Ctx, keyPath: string[]): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { items?: unknown[]; key?: unknown; value?: unknown; range?: [number, number, number] };
  if (Array.isArray(n.items)) {
    const isMap = n.items.every((it) => it && typeof it === 'object' && 'key' in it);
    if (isMap) checkEnvEntry(n.items as Pair[], ctx);
    n.items.forEach((it, i) => {
      if (it && typeof it === 'object' && 'key' in it) {
        const pair = it as Pair;
        const key = scalarString(pair.key) ?? '';
        checkPair(key, pair.value, ctx, keyPath);
        walk(pair.value, ctx, [...keyPath, key]);
      } else {
        walk(it, ctx, [...keyPath, String(i)]);
      }
    });
  }
}

interface Pair {
  key: unknown;
  value: unknown;
}

function scalarString(node: unknown): string | undefined {
  if (node && typeof node === 'object' && 'value' in node) {
    const v = (node as { value: unknown }).value;
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function nodeLine(node: unknown, ctx: Ctx): number {
  const range = node && typeof node === 'object' ? (node as { range?: number[] }).range : undefined;
  return lineOf(ctx.text, range?.[0]);
}

/** `env: [{name: X_TOKEN, value: "..."}]`: a credential-named variable must use valueFrom, not value. */
function checkEnvEntry(items: Pair[], ctx: Ctx): void {
  const name = items.find((p) => scalarString(p.key) === 'name');
  const value = items.find((p) => scalarString(p.key) === 'value');
  const nameStr = name ? scalarString(name.value) : undefined;
  const valueStr = value ? scalarString(value.value) : undefined;
  if (nameStr && valueStr !== undefined && isSensitiveKey(nameStr) && !isReference(valueStr)) {
    ctx.out.push({
      file: ctx.file,
      line: nodeLine(value?.value, ctx),
      rule: 'credential-env-literal',
      detail: `env var ${nameStr} has a literal value; use valueFrom.secretKeyRef`,
    });
  }
}

function checkPair(key: string, valueNode: unknown, ctx: Ctx, keyPath: string[]): void {
  const value = scalarString(valueNode);
  const line = nodeLine(valueNode, ctx);
  const parent = keyPath[keyPath.length - 1];
  if ((parent === 'data' || parent === 'stringData') && ctx.kind === 'Secret' && value !== undefined) {
    ctx.out.push({
      file: ctx.file,
      line,
      rule: 'secret-data',
      detail: `Secret ${parent}.${key} carries a value`,
    });
    return;
  }
  if (value === undefined) return;
  if (isSensitiveKey(key) && !isReference(value)) {
    ctx.out.push({
      file: ctx.file,
      line,
      rule: 'credential-key-literal',
      detail: `${key} has a literal value`,
    });
  }
  if (isHighEntropyBlob(value)) {
    ctx.out.push({
      file: ctx.file,
      line,
      rule: 'high-entropy-blob',
      detail: `${key} looks like an encoded secret`,
    });
  }
}

/** Scans one file's text: credential formats on every line, structure rules when it parses as YAML/JSON. */
export function scanText(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const { rule, re } of TOKEN_PATTERNS) {
      if (re.test(lineText)) out.push({ file, line: i + 1, rule, detail: `matches the ${rule} format` });
    }
  });
  if (!/\.(ya?ml|json)$/i.test(file)) return out;
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      out.push({
        file,
        line: 0,
        rule: 'unparsable',
        detail: `YAML error: ${doc.errors[0].message.split('\n')[0]}`,
      });
      continue;
    }
    const js: unknown = doc.toJS();
    const kind =
      js && typeof js === 'object' && 'kind' in js && typeof js.kind === 'string' ? js.kind : undefined;
    walk(doc.contents, { file, text, kind, out }, []);
  }
  return out;
}

/** Every regular file under `dir` (recursively), sorted; empty when `dir` does not exist. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(p));
    else if (entry.isFile() && statSync(p).size < 5 * 2 ** 20) files.push(p);
  }
  return files.sort();
}

/** Scans every file under the given directories (relative to `root`); file names in findings are relative. */
export function scanDirs(root: string, dirs: readonly string[]): { files: string[]; findings: Finding[] } {
  const files = dirs.flatMap((d) => listFiles(path.join(root, d)));
  const findings = files.flatMap((f) => scanText(path.relative(root, f), readFileSync(f, 'utf8')));
  return { files: files.map((f) => path.relative(root, f)), findings };
}
