/**
 * An index from a CSV file of `path,label` rows, as Keras' `flow_from_dataframe` reads a table: paths
 * relative to the CSV's folder (or `root`), labels as class names (sorted, as Keras sorts them) or as
 * integers. The file is streamed, so a table of millions of rows is never held as text.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import { Errors, ImgstreamError, boundText } from './errors.js';
import { MAX_INFERRED_CLASSES, fromList, type FileIndex } from './file-index.js';

export interface FromCsvOptions {
  /** Column holding the image path: a header name or a 0-based number. Default `'path'` (or column 0 without a header). */
  pathColumn?: string | number;
  /**
   * Column holding the label: a header name or a 0-based number; `null` for an unlabeled index.
   * Default `'label'` (or column 1 without a header, when there is one).
   */
  labelColumn?: string | number | null;
  /** Whether the first row names the columns. Default `true`. */
  header?: boolean;
  /** Folder relative paths are resolved against. Default: the CSV's own folder. */
  root?: string;
  /**
   * Whether rows may name files outside `root` (`../..` or an absolute path elsewhere). By default such a row
   * is refused (`ERR_OUTSIDE_ROOT`, naming its line): a table from someone else cannot make the loader read
   * any file the process can. The check is on the path's text; links inside `root` are followed.
   * @default false
   */
  allowOutsideRoot?: boolean;
  /**
   * Classes in label order. Default: the distinct labels sorted (by code point, as Keras sorts class names);
   * labels that are all integers are taken as class indices `0..max` instead.
   */
  classNames?: readonly string[];
  /** Field delimiter. Default `','`. */
  delimiter?: string;
}

function columnIndex(option: string, wanted: string | number, header: string[] | null): number {
  if (typeof wanted === 'number') {
    if (!Number.isInteger(wanted) || wanted < 0) throw Errors.invalidOption(option, 'a column name or a 0-based column number', wanted);
    return wanted;
  }
  if (header === null) throw Errors.invalidOption(option, 'a 0-based column number (the CSV has no header row)', wanted);
  const at = header.indexOf(wanted);
  if (at === -1) throw Errors.invalidOption(option, `one of the CSV's columns (${header.join(', ')})`, wanted);
  return at;
}

const INTEGER = /^\d+$/;

/** Whether `file` (resolved) is `root` or below it, by the path's text. */
function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`);
}

/**
 * Reads `file` into an index. Rows with an empty path are refused by line number; blank lines are skipped.
 *
 * @example
 * // train.csv:  path,label \n images/001.jpg,cat \n images/002.jpg,dog
 * const index = await fromCsv('data/train.csv'); // pathColumn 'path', labelColumn 'label', header true
 * index.classNames; // ['cat', 'dog']
 * const loader = new ImageLoader(index, { imageSize: [224, 224] });
 */
export async function fromCsv(file: string, opts: FromCsvOptions = {}): Promise<FileIndex> {
  if (typeof file !== 'string' || file.length === 0) throw Errors.invalidOption('file', 'a CSV file path', file);
  const { header = true, delimiter = ',', classNames, allowOutsideRoot = false } = opts ?? {};
  if (typeof header !== 'boolean') throw Errors.invalidOption('header', 'a boolean', header);
  if (typeof allowOutsideRoot !== 'boolean') throw Errors.invalidOption('allowOutsideRoot', 'a boolean', allowOutsideRoot);
  if (typeof delimiter !== 'string' || delimiter.length === 0) throw Errors.invalidOption('delimiter', 'a non-empty string', delimiter);
  const st = await fsp.stat(file).catch(() => null);
  if (st === null || !st.isFile()) throw Errors.notFound(file, 'CSV file');
  const root = path.resolve(opts.root ?? path.dirname(file));

  const parser = createReadStream(file).pipe(parse({ delimiter, skip_empty_lines: true, relax_column_count: true, bom: true, trim: true, info: true }));
  const paths: string[] = [];
  const rawLabels: string[] = [];
  /** The CSV line of each labeled row, for messages. */
  const lines: number[] = [];
  let names: string[] | null = null;
  let pathAt = -1;
  let labelAt: number | null = -1;
  try {
    for await (const { record: row, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (pathAt === -1) {
        if (header) names = row;
        pathAt = columnIndex('pathColumn', opts.pathColumn ?? (header ? 'path' : 0), names);
        const labelOption = opts.labelColumn === undefined ? (header ? 'label' : row.length > 1 ? 1 : null) : opts.labelColumn;
        labelAt = labelOption === null ? null : columnIndex('labelColumn', labelOption, names);
        if (header) continue;
      }
      const line = info.lines;
      const p = row[pathAt];
      if (p === undefined || p === '') throw Errors.invalidOption(`${file} line ${line} (pathColumn)`, 'a non-empty path', p ?? '');
      const resolved = path.resolve(root, p);
      if (!allowOutsideRoot && !isInside(root, resolved)) {
        throw new ImgstreamError(
          'ERR_OUTSIDE_ROOT',
          `${file} line ${line}: the path '${boundText(p, 500)}' is outside the root ${root}; rows must name files below it (allowOutsideRoot: true reads them anyway)`,
          { path: resolved },
        );
      }
      paths.push(resolved);
      if (labelAt !== null) {
        const label = row[labelAt];
        if (label === undefined || label === '') throw Errors.invalidOption(`${file} line ${line} (labelColumn)`, 'a non-empty label', label ?? '');
        rawLabels.push(label);
        lines.push(line);
      }
    }
  } catch (err) {
    if (err instanceof ImgstreamError) throw err;
    throw new ImgstreamError('ERR_READ', `Cannot read ${file}: ${(err as Error).message}`, { path: file, cause: err });
  }
  if (paths.length === 0) throw Errors.invalidOption(file, 'at least one row of data', '0 rows');
  if (labelAt === null) return fromList(paths);

  let classes: string[];
  if (classNames !== undefined) {
    classes = [...classNames];
  } else if (rawLabels.every((l) => INTEGER.test(l))) {
    // The largest label sets the number of classes: bounded, so that one row cannot allocate classes until the heap dies.
    let max = 0;
    rawLabels.forEach((l, row) => {
      const v = Number(l);
      if (v >= MAX_INFERRED_CLASSES) {
        throw Errors.invalidOption(
          `the label of ${file} line ${lines[row]}`,
          `an integer below ${MAX_INFERRED_CLASSES} (or classNames naming every class)`,
          boundText(l, 100),
        );
      }
      max = Math.max(max, v);
    });
    classes = Array.from({ length: max + 1 }, (_, i) => String(i));
  } else {
    classes = [...new Set(rawLabels)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
  const id = new Map(classes.map((c, i) => [c, i]));
  const labels = rawLabels.map((l, row) => {
    const known = id.get(l) ?? (INTEGER.test(l) && Number(l) < classes.length ? Number(l) : undefined);
    if (known === undefined) {
      const allowed = classes.length <= 20 ? classes.join(', ') : `${classes.slice(0, 20).join(', ')}, ... ${classes.length} in all`;
      throw Errors.invalidOption(`the label of ${file} line ${lines[row]}`, `one of classNames (${allowed}) or an index below ${classes.length}`, boundText(l, 100));
    }
    return known;
  });
  return fromList(paths, labels, { classNames: classes });
}
