import { readFileSync } from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';

/** The machine a benchmark ran on, stated next to its figures. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly logicalCpus: number;
  readonly availableParallelism: number;
  /** cgroup v2 `cpu.max` (e.g. `max 100000` when unlimited), or null outside a cgroup v2. */
  readonly cgroupCpuMax: string | null;
  readonly totalMemoryMiB: number;
  readonly node: string;
  readonly onnxruntimeNode: string;
  readonly sharp: string;
  readonly libvips: string;
  readonly platform: string;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function packageVersion(name: string): string {
  try {
    // The package.json of an installed dependency; JSON.parse result narrowed below.
    const pkg: unknown = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8'));
    if (pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string')
      return pkg.version;
  } catch {
    // fall through: reported as unknown
  }
  return 'unknown';
}

/** Collects the machine description for the report. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    cgroupCpuMax: readOrNull('/sys/fs/cgroup/cpu.max'),
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    sharp: sharp.versions.sharp ?? packageVersion('sharp'),
    libvips: sharp.versions.vips,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}
