/**
 * The options tables of the README and of docs/ are the JSDoc of the options types, rendered: they fail here
 * when either side changes alone (`npm run docs:options` renders them again). Also: every option has its text
 * and one `@default`, the loader's `@default`s are the defaults the code applies, and the README's error table
 * lists exactly the codes of `src/errors.ts`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { DOC_FILES, ROOT, blockRefs, readOptionDocs, renderBlocks } from '../scripts/docs-options.js';
import { DEFAULTS } from '../src/index.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Every options interface a user passes, and the page whose table shows it. */
const DOCUMENTED: [ref: string, page: string][] = [
  ['src/options.ts#LoaderOptions', 'README.md'],
  ['src/loader.ts#SplitOptions', 'README.md'],
  ['src/loader.ts#ImageDatasetOptions', 'README.md'],
  ['src/file-index.ts#FromDirectoryOptions', 'README.md'],
  ['src/augment-options.ts#AugmentOptions', 'docs/augmentation.md'],
  ['src/shards/loader.ts#ShardDatasetOptions', 'docs/shards.md'],
];

describe('options tables', () => {
  for (const file of DOC_FILES) {
    it(`${file}: its generated blocks match the JSDoc (else run npm run docs:options)`, () => {
      const text = read(file);
      expect(renderBlocks(text)).toBe(text);
    });
  }

  for (const [ref, page] of DOCUMENTED) {
    it(`${ref}: shown on ${page}, every member with a description and one @default`, () => {
      expect(blockRefs(read(page))).toContain(ref);
      const [file, name] = ref.split('#');
      const docs = readOptionDocs(file, name);
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        expect(doc.text, `${name}.${doc.name} has no description`).not.toBe('');
        expect(doc.defaultTags, `${name}.${doc.name}: @default tags`).toBe(1);
        expect(doc.default, `${name}.${doc.name}: empty @default`).not.toBe('');
      }
    });
  }

  it("LoaderOptions' @default values are the defaults the loader applies", () => {
    const docs = readOptionDocs('src/options.ts', 'LoaderOptions');
    expect(docs.map((d) => d.name).sort()).toEqual(Object.keys(DEFAULTS).sort());
    for (const doc of docs) {
      const documented = new Function(`return (${doc.default});`)() as unknown;
      expect(documented, doc.name).toEqual(DEFAULTS[doc.name as keyof typeof DEFAULTS]);
    }
  });
});

describe('error codes', () => {
  it("the README's error table lists exactly the codes of src/errors.ts", () => {
    const sf = ts.createSourceFile('errors.ts', read('src/errors.ts'), ts.ScriptTarget.Latest, true);
    const alias = sf.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'ErrorCode');
    expect(alias && ts.isUnionTypeNode(alias.type)).toBe(true);
    const codes = (alias!.type as ts.UnionTypeNode).types.map((t) => ((t as ts.LiteralTypeNode).literal as ts.StringLiteral).text);
    expect(codes.length).toBeGreaterThan(5);
    const listed = [...read('README.md').matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...codes].sort());
  });
});
