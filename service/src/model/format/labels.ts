import { z } from 'zod';
import { ONE_UNIT_FIX } from './io';

/** Label files read beside the model, in this order (at most one may be present). */
export const LABELS_JSON_FILE = 'labels.json';
export const LABELS_TXT_FILE = 'labels.txt';

/**
 * The labels rule, one home: a labels file, the description's `labels` and the graph's metadata all hold
 * this. Class labels in the order of the output vector; names may repeat (the class index is the identity).
 */
export const LabelsSchema = z
  .array(z.string().min(1).max(200))
  .min(2, { message: `a classifier has at least 2 classes, one label each: ${ONE_UNIT_FIX}` });

/**
 * Parses a labels file: `labels.json` is a JSON array of strings; `labels.txt` has one label per line
 * (LF or CRLF, a trailing newline or not; surrounding spaces are kept out). Names may repeat.
 */
export function parseLabelsFile(file: string, text: string): string[] {
  if (file === LABELS_JSON_FILE) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message}): write a JSON array of strings`);
    }
    const parsed = LabelsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `${file}: '${issue?.path.join('.') || '(root)'}' ${issue?.message}: write a JSON array of non-empty strings, one per class in output order`,
      );
    }
    return parsed.data;
  }
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const labels = lines.map((l) => l.trim());
  const empty = labels.findIndex((l) => l.length === 0 || l.length > 200);
  if (labels.length === 0 || empty >= 0) {
    throw new Error(
      `${file}: ${labels.length === 0 ? 'no labels' : `line ${empty + 1} is empty or longer than 200 characters`}: write one label per line, one per class in output order`,
    );
  }
  const parsed = LabelsSchema.safeParse(labels);
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues[0]?.message}`);
  return labels;
}
