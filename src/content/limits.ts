/**
 * Every limit of the content walker is one row here: name, default, bounds,
 * one line of documentation. The config schema and docs/CONFIG.md read this
 * table; hitting a limit is the finding `Heuristics.Limits.Exceeded.<Name>`.
 */
export interface LimitRow {
  readonly name: LimitName;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly unit: 'bytes' | 'count' | 'ms' | 'ratio';
  readonly doc: string;
}

export type LimitName =
  | 'MaxScanSize' | 'MaxFileSize' | 'MaxRecursion' | 'MaxFiles' | 'MaxScanTime' | 'MaxCompressionRatio';

const MB = 1024 * 1024;

export const LIMIT_ROWS: readonly LimitRow[] = [
  { name: 'MaxScanSize', default: 400 * MB, min: 1 * MB, max: 4096 * MB, unit: 'bytes', doc: 'Most bytes scanned for one object, counting everything decoded or unpacked from it (ClamAV MaxScanSize).' },
  { name: 'MaxFileSize', default: 100 * MB, min: 1024, max: 4096 * MB, unit: 'bytes', doc: 'Largest single object (the file itself or one member of a container) that is scanned (ClamAV MaxFileSize).' },
  { name: 'MaxRecursion', default: 17, min: 1, max: 64, unit: 'count', doc: 'Deepest nesting of containers inside containers (ClamAV MaxRecursion).' },
  { name: 'MaxFiles', default: 10000, min: 1, max: 1_000_000, unit: 'count', doc: 'Most objects taken out of one scanned object, all levels together (ClamAV MaxFiles).' },
  { name: 'MaxScanTime', default: 120_000, min: 100, max: 3_600_000, unit: 'ms', doc: 'Longest time one object may take to scan, unpacking included (ClamAV MaxScanTime).' },
  { name: 'MaxCompressionRatio', default: 250, min: 2, max: 100_000, unit: 'ratio', doc: 'Largest unpacked/packed size ratio of one member (above 1 MiB unpacked) before it counts as a decompression bomb.' },
];

export type Limits = Readonly<Record<LimitName, number>>;

export const DEFAULT_LIMITS: Limits = Object.fromEntries(LIMIT_ROWS.map((r) => [r.name, r.default])) as Limits;

export function limitFinding(name: LimitName): string {
  return `Heuristics.Limits.Exceeded.${name}`;
}

/**
 * MaxCompressionRatio applies only to members that unpack to more than this:
 * small members of zeros or repeated text legitimately reach high ratios, and
 * a bomb is only a danger when it is big.
 */
export const BOMB_MIN_UNPACKED = 1024 * 1024;
