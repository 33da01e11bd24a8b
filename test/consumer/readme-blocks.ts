/**
 * The README's TypeScript blocks as modules a consumer app can type-check: each block's imports
 * stay at the top, and the rest becomes the body of a Stack's constructor (where `this` is the
 * stack, as the README's snippets assume).
 */

/** One ```ts block of the README, with the line it starts on. */
export interface ReadmeBlock {
  readonly line: number;
  readonly code: string;
}

export function readmeTypeScriptBlocks(readme: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  const lines = readme.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * The block as a module: its imports and `declare` lines (what a snippet assumes exists) at the
 * top, then its statements inside a Stack subclass's constructor.
 */
export function readmeBlockModule(block: ReadmeBlock, index: number): string {
  const imports: string[] = [];
  const body: string[] = [];
  let inImport = false;
  for (const line of block.code.split('\n')) {
    if (/^(import|declare)\b/.test(line) || inImport) {
      imports.push(line);
      inImport = /^import\b/.test(line) || inImport ? !/;\s*$/.test(line) : false;
    } else {
      body.push(line);
    }
  }
  return [
    `// README.md line ${block.line}`,
    "import { Stack as ReadmeStack } from 'aws-cdk-lib';",
    "import { Construct as ReadmeConstruct } from 'constructs';",
    ...imports,
    '',
    `export class ReadmeBlock${index} extends ReadmeStack {`,
    '  constructor(scope: ReadmeConstruct, id: string) {',
    '    super(scope, id);',
    ...body.map((line) => (line === '' ? '' : `    ${line}`)),
    '  }',
    '}',
    '',
  ].join('\n');
}
