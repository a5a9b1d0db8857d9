/**
 * `npm run bench:ab -- --variant <name>[:<file.js|file.ts>][,KEY=VALUE…] …`: an A/B comparison of service
 * builds or settings, interleaved (A B A B …) so that a noisy machine weighs on every variant alike. Each
 * round starts a fresh service per variant, warms it up, drives the bench's four images at a fixed number of
 * closed-loop connections and reads images/s, the service's CPU-ms per image by thread and its peak RSS.
 * Prints each round and the medians; what wins goes into bench/README.md's A/B table.
 *
 * Example: `npm run bench:ab -- --variant before:/tmp/old/build/service/src/server.js --variant after`
 *          `npm run bench:ab -- --variant default --variant semi2,NODE_OPTIONS=--max-semi-space-size=2`
 */
import { Command, InvalidArgumentError } from 'commander';
import { entryFor } from '../../service/src/build-or-source';
import { median } from './stats';
import { generateImages } from './images';
import { runLoad } from './load';
import {
  procStatusMiB,
  procThreadCpuSeconds,
  procCpuSeconds,
  resetPeakRss,
  scrapeServiceMetrics,
  serviceCommand,
  startService,
  threadCpuMsPerImage,
  type ServiceCommand,
} from './service-process';

/** One side of the comparison. */
export interface AbVariant {
  readonly name: string;
  readonly command: ServiceCommand;
  readonly env: Readonly<Record<string, string>>;
}

/** What one round of one variant measured. */
export interface AbRound {
  readonly imagesPerSec: number;
  readonly cpuMsPerImage: number;
  readonly threadCpuMsPerImage: Readonly<Record<string, number>>;
  readonly peakRssMiB: number;
  /** Longest event-loop stall the service saw during the round (see scrapeServiceMetrics), ms. */
  readonly loopStallMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Parses `name[:entry][,KEY=VALUE…]`. */
export function parseVariant(text: string): AbVariant {
  const [head = '', ...pairs] = text.split(',');
  const colon = head.indexOf(':');
  const name = colon < 0 ? head : head.slice(0, colon);
  const entry = colon < 0 ? undefined : head.slice(colon + 1);
  if (!/^[\w.-]+$/.test(name)) {
    throw new InvalidArgumentError(`'${text}': a variant starts with a name (letters, digits, . _ -)`);
  }
  if (entry !== undefined && !/\.(js|ts)$/.test(entry)) {
    throw new InvalidArgumentError(`'${text}': the entry after ':' must be a .js or .ts file`);
  }
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`'${pair}' in '${text}': write KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { name, command: entry ? entryFor(entry) : serviceCommand(), env };
}

/** Commander parser for a positive number (a whole one when `whole`), naming the flag when it is not. */
export function positive(flag: string, whole: boolean): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!(n > 0) || (whole && !Number.isInteger(n))) {
      throw new InvalidArgumentError(
        `${flag} must be a positive ${whole ? 'whole ' : ''}number (got '${text}')`,
      );
    }
    return n;
  };
}

async function measure(
  v: AbVariant,
  bodies: { contentType: string; bytes: Uint8Array }[],
  connections: number,
  seconds: number,
): Promise<AbRound> {
  const svc = await startService({ command: v.command, env: v.env });
  try {
    const load = { url: svc.url, path: '/predict', connections, timeoutSec: 30, images: bodies };
    await runLoad({ ...load, durationSec: Math.min(3, seconds) }); // warm-up
    resetPeakRss(svc.pid);
    await scrapeServiceMetrics(svc.url); // restarts the service's loop-delay window
    const cpu = procCpuSeconds(svc.pid);
    const threads = procThreadCpuSeconds(svc.pid);
    const r = await runLoad({ ...load, durationSec: seconds });
    const images = r.ok;
    const after = procThreadCpuSeconds(svc.pid);
    const { loopStallMs } = await scrapeServiceMetrics(svc.url);
    return {
      imagesPerSec: r.okPerSec,
      cpuMsPerImage: ((procCpuSeconds(svc.pid) - cpu) * 1000) / images,
      threadCpuMsPerImage: threadCpuMsPerImage(threads, after, images),
      peakRssMiB: procStatusMiB(svc.pid, 'VmHWM'),
      loopStallMs,
      p50Ms: r.latencyMs.p50,
      p99Ms: r.latencyMs.p99,
    };
  } finally {
    await svc.stop();
  }
}

function row(name: string, r: AbRound, threadNames: readonly string[]): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const t = threadNames.map((n) => f(r.threadCpuMsPerImage[n] ?? 0)).join(' | ');
  return `| ${name} | ${f(r.imagesPerSec, 1)} | ${f(r.cpuMsPerImage)} | ${t} | ${f(r.peakRssMiB, 0)} | ${f(r.loopStallMs, 1)} | ${f(r.p50Ms)} / ${f(r.p99Ms)} |`;
}

async function main(): Promise<void> {
  const program = new Command('bench:ab')
    .description('interleaved A/B of service builds or settings (see bench/README.md)')
    .option(
      '--variant <spec>',
      'name[:entry.js|.ts][,KEY=VALUE…] (twice or more)',
      (t, acc: AbVariant[]) => [...acc, parseVariant(t)],
      [],
    )
    .option('--rounds <n>', 'rounds per variant', positive('--rounds', true), 3)
    .option('--seconds <s>', 'measured seconds per round', positive('--seconds', false), 10)
    .option('--connections <n>', 'closed-loop connections', positive('--connections', true), 8);
  program.parse();
  const o = program.opts<{ variant: AbVariant[]; rounds: number; seconds: number; connections: number }>();
  if (o.variant.length < 2) program.error('give at least two --variant');
  const images = await generateImages();
  const bodies = images.map((im) => ({ contentType: `image/${im.format}`, bytes: im.bytes }));
  const rounds = new Map<string, AbRound[]>(o.variant.map((v) => [v.name, []]));
  for (let round = 1; round <= o.rounds; round++) {
    // Alternate the order each round, so neither side always runs first.
    const order = round % 2 === 1 ? o.variant : [...o.variant].reverse();
    for (const v of order) {
      const r = await measure(v, bodies, o.connections, o.seconds);
      rounds.get(v.name)?.push(r);
      process.stdout.write(
        `round ${round} ${v.name}: ${r.imagesPerSec.toFixed(1)} img/s, ${r.cpuMsPerImage.toFixed(2)} CPU-ms/img, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, loop stall ${r.loopStallMs.toFixed(1)} ms\n`,
      );
    }
  }
  const medians = o.variant.map((v) => {
    const rs = rounds.get(v.name) ?? [];
    const m = (f: (r: AbRound) => number) => median(rs.map(f));
    const names = new Set(rs.flatMap((r) => Object.keys(r.threadCpuMsPerImage)));
    return {
      name: v.name,
      r: {
        imagesPerSec: m((r) => r.imagesPerSec),
        cpuMsPerImage: m((r) => r.cpuMsPerImage),
        threadCpuMsPerImage: Object.fromEntries(
          [...names].map((n) => [n, m((r) => r.threadCpuMsPerImage[n] ?? 0)]),
        ),
        peakRssMiB: m((r) => r.peakRssMiB),
        loopStallMs: m((r) => r.loopStallMs),
        p50Ms: m((r) => r.p50Ms),
        p99Ms: m((r) => r.p99Ms),
      },
    };
  });
  const threadNames = [...new Set(medians.flatMap((x) => Object.keys(x.r.threadCpuMsPerImage)))]
    .filter((n) => medians.some((x) => (x.r.threadCpuMsPerImage[n] ?? 0) >= 0.05))
    .sort(
      (a, b) => (medians[0]?.r.threadCpuMsPerImage[b] ?? 0) - (medians[0]?.r.threadCpuMsPerImage[a] ?? 0),
    );
  process.stdout.write(
    `\nMedians of ${o.rounds} interleaved rounds, ${o.connections} connections, ${o.seconds} s each (CPU-ms per image by thread):\n\n` +
      `| variant | img/s | CPU-ms/img | ${threadNames.join(' | ')} | peak RSS MiB | loop stall ms | p50 / p99 ms |\n` +
      `|---|---:|---:|${threadNames.map(() => '---:|').join('')}---:|---:|---:|\n` +
      medians.map((x) => row(x.name, x.r, threadNames)).join('\n') +
      '\n',
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:ab: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
