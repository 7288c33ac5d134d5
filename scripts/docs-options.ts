/**
 * The options tables of the README and of `docs/`, generated from the JSDoc of the options types, where each
 * option is documented once (its text and its `@default`). A block
 *
 *   <!-- OPTIONS src/options.ts#LoaderOptions src/loader.ts#SplitOptions -->
 *   ...
 *   <!-- /OPTIONS -->
 *
 * becomes a table of the members of those interfaces, in order (a name already listed by an earlier interface
 * is not repeated); `<!-- JSDOC src/file.ts#Interface -->` ... `<!-- /JSDOC -->` becomes the interface's own
 * comment, without its tags. `npm run docs:options` rewrites the blocks, `-- --check` only reports the files
 * whose blocks are out of date (exit code 1); `test/readme-options.test.ts` runs the check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository's root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Files whose blocks are generated. */
export const DOC_FILES: readonly string[] = ['README.md', 'docs/augmentation.md', 'docs/shards.md'];

/** One documented member of an options interface. */
export interface OptionDoc {
  name: string;
  /** The comment's text, without its tags (`{@link X}` kept as written). */
  text: string;
  /** The `@default` tag's text, `null` without one. */
  default: string | null;
  /** How many `@default` tags the member has (exactly one is expected). */
  defaultTags: number;
}

const sources = new Map<string, ts.SourceFile>();

function sourceFile(file: string): ts.SourceFile {
  let sf = sources.get(file);
  if (sf === undefined) {
    sf = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
    sources.set(file, sf);
  }
  return sf;
}

function commentText(comment: string | ts.NodeArray<ts.JSDocComment> | undefined): string {
  return (ts.getTextOfJSDocComment(comment) ?? '').trim();
}

function jsDocOf(node: ts.Node): ts.JSDoc | undefined {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc;
  return docs?.[docs.length - 1];
}

function findInterface(file: string, name: string): ts.InterfaceDeclaration {
  const sf = sourceFile(file);
  const found = sf.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (found === undefined) throw new Error(`Expected an interface ${name} in ${file} but found none`);
  return found;
}

/** The members of interface `name` in `file` (its own, not inherited ones), with their JSDoc. */
export function readOptionDocs(file: string, name: string): OptionDoc[] {
  return findInterface(file, name).members.filter(ts.isPropertySignature).map((member) => {
    const doc = jsDocOf(member);
    const defaults = (doc?.tags ?? []).filter((t) => t.tagName.text === 'default');
    return {
      name: member.name.getText(),
      text: commentText(doc?.comment),
      default: defaults.length > 0 ? commentText(defaults[0].comment) : null,
      defaultTags: defaults.length,
    };
  });
}

/** The interface's own comment, without its tags. */
export function readInterfaceDoc(file: string, name: string): string {
  return commentText(jsDocOf(findInterface(file, name))?.comment);
}

/** The initializer of `export const name = ...` in `file`, or `null`. */
function constInitializer(file: string, name: string): string | null {
  for (const s of sourceFile(file).statements) {
    if (!ts.isVariableStatement(s)) continue;
    for (const d of s.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer) return d.initializer.getText();
    }
  }
  return null;
}

const LITERAL = /^(['"`[{\-\d]|(true|false|null|undefined|Infinity)$)/;
const LINK = /\{@link\s+([^}\s]+)\s*\}/g;

function inline(text: string): string {
  return text.replace(LINK, '`$1`').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** A default as the table shows it: literals as code, a `{@link CONST}` with the constant's value. */
function renderDefault(file: string, value: string | null): string {
  if (value === null || value === '') return '';
  const link = /^\{@link\s+([^}\s]+)\s*\}$/.exec(value);
  if (link) {
    const init = constInitializer(file, link[1]);
    return inline(init === null ? `\`${link[1]}\`` : `\`${link[1]}\`: \`${init}\``);
  }
  return LITERAL.test(value) ? inline(`\`${value}\``) : inline(value);
}

/** The markdown table of the members of `refs` (`file#Interface`), in order, each name once. */
export function optionsTable(refs: readonly string[]): string {
  const seen = new Set<string>();
  const rows: string[] = ['| option | default | what it does, what is allowed |', '| --- | --- | --- |'];
  for (const ref of refs) {
    const [file, name] = parseRef(ref);
    for (const doc of readOptionDocs(file, name)) {
      if (seen.has(doc.name)) continue;
      seen.add(doc.name);
      rows.push(`| \`${doc.name}\` | ${renderDefault(file, doc.default)} | ${inline(doc.text)} |`);
    }
  }
  return rows.join('\n');
}

function parseRef(ref: string): [string, string] {
  const at = ref.lastIndexOf('#');
  if (at <= 0) throw new Error(`Expected file#Interface in an OPTIONS or JSDOC block but received '${ref}'`);
  return [ref.slice(0, at), ref.slice(at + 1)];
}

const BLOCK = /<!-- (OPTIONS|JSDOC) ([^>]*?) -->\n[\s\S]*?<!-- \/\1 -->/g;

/** `text` with every generated block rendered anew from the sources. */
export function renderBlocks(text: string): string {
  return text.replace(BLOCK, (_, kind: string, args: string) => {
    const refs = args.trim().split(/\s+/);
    const body = kind === 'OPTIONS' ? optionsTable(refs) : refs.map((r) => readInterfaceDoc(...parseRef(r))).join('\n\n');
    return `<!-- ${kind} ${args} -->\n${body}\n<!-- /${kind} -->`;
  });
}

/** The references of every generated block of `text`. */
export function blockRefs(text: string): string[] {
  return [...text.matchAll(BLOCK)].flatMap((m) => m[2].trim().split(/\s+/));
}

function main(args: string[]): number {
  const check = args.includes('--check');
  const stale: string[] = [];
  for (const file of DOC_FILES) {
    const full = path.join(ROOT, file);
    const text = readFileSync(full, 'utf8');
    const rendered = renderBlocks(text);
    if (rendered === text) continue;
    stale.push(file);
    if (!check) writeFileSync(full, rendered);
  }
  if (check && stale.length > 0) {
    process.stderr.write(`Options tables out of date in ${stale.join(', ')}: run npm run docs:options\n`);
    return 1;
  }
  process.stdout.write(stale.length > 0 ? `rewrote ${stale.join(', ')}\n` : 'options tables up to date\n');
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
