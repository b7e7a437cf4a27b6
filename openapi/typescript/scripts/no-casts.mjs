// Fails when the given TypeScript sources (the SDK's tests) use `any`, a type assertion
// (`x as T`, `<T>x`, including `as const`), a non-null assertion (`x!`) or `@ts-ignore` /
// `@ts-nocheck`: the tests must get every type from the generated schema through the SDK.
// Walks TypeScript's own syntax tree, so strings and comments cannot trip it.
//
//   node scripts/no-casts.mjs DIR_OR_FILE...
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const files = [];
const walk = (path) => {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) walk(join(path, entry));
  } else if (/\.(m|c)?tsx?$/.test(path) && !path.endsWith(".d.ts")) {
    files.push(path);
  }
};
for (const arg of process.argv.slice(2)) walk(arg);
if (files.length === 0) {
  console.error("no-casts: no TypeScript files given");
  process.exit(2);
}

const problems = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const report = (node, what) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    problems.push(`${file}:${line + 1}:${character + 1}: ${what}: ${node.getText(source).slice(0, 60)}`);
  };
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) report(node, "`any`");
    else if (ts.isAsExpression(node)) report(node, "type assertion `as`");
    else if (ts.isTypeAssertionExpression(node)) report(node, "type assertion `<T>x`");
    else if (ts.isNonNullExpression(node)) report(node, "non-null assertion `!`");
    ts.forEachChild(node, visit);
  };
  visit(source);
  for (const match of text.matchAll(/@ts-(ignore|nocheck|expect-error)/g)) {
    const { line } = source.getLineAndCharacterOfPosition(match.index);
    problems.push(`${file}:${line + 1}: @ts-${match[1]}`);
  }
}
if (problems.length > 0) {
  console.error(`no-casts: ${problems.length} forbidden construct(s):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`no-casts: ${files.length} files free of any, casts and non-null assertions`);
