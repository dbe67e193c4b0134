#!/usr/bin/env node
// Builds Sportello's reduced Bootstrap Italia into node_modules/.sportello-design-system/,
// with the folder layout and file names of node_modules/bootstrap-italia/dist, so that
// the templates' /static/vendor/bootstrap-italia/... URLs do not change:
//   css/bootstrap-italia.min.css     design-system/bootstrap-italia.scss (only the partials
//                                    in use), then every rule whose classes appear nowhere
//                                    in the themes, the Rust views, the tenants, the locales
//                                    or the bundled JS is dropped
//   js/bootstrap-italia.bundle.min.js  design-system/bootstrap-italia.js (only the plugins
//                                    in use), esbuild, IIFE, minified
//   svg/sprites.svg                  only the icons referenced (#it-...)
//   fonts/                           copied as they are
// and beside each .css/.js/.svg a .br (brotli, quality 11) and a .gz (gzip -9).
//
//   node design-system/build.mjs [--force]
// Does nothing when its inputs are those of the last build (a stamp in the output).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'node_modules/bootstrap-italia/dist');
const out = path.join(root, 'node_modules/.sportello-design-system');
const stampFile = path.join(out, '.inputs.sha256');
// Written beside, then swapped in whole: a running server never sees half a build.
const staging = `${out}.new`;

// Classes that no file names literally: templates build them (`bg-{{ colour }}` with
// the workflow's Colour enum, src/procedure/workflow.rs).
const SAFELIST = ['primary', 'secondary', 'success', 'warning', 'danger', 'info'].flatMap((c) => [
  `bg-${c}`,
  `text-${c}`,
  `alert-${c}`,
  `btn-${c}`,
]);
// Icons that no template names literally (none today); add `it-<name>` here if one is
// built from a variable.
const ICON_SAFELIST = [];

function walk(dir, filter) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return walk(p, filter);
      return filter(p) ? [p] : [];
    });
}

// Where class names and icon names are written: every theme file, tenant and locale,
// and the Rust files' string literals on lines that mention a class.
function sources() {
  const themed = walk(path.join(root, 'themes'), (p) => /\.(html|css|js|svg)$/.test(p));
  const data = [
    ...walk(path.join(root, 'tenants'), (p) => /\.(toml|md|html)$/.test(p)),
    ...walk(path.join(root, 'locales'), (p) => /\.(ftl|toml|json|ya?ml)$/.test(p)),
  ];
  const rust = walk(path.join(root, 'src'), (p) => p.endsWith('.rs'));
  const texts = [...themed, ...data].map((p) => fs.readFileSync(p, 'utf8'));
  const rustLines = [];
  for (const p of rust) {
    for (const line of fs.readFileSync(p, 'utf8').split('\n')) {
      if (line.includes('class')) rustLines.push(...(line.match(/"(?:[^"\\]|\\.)*"/g) || []));
    }
  }
  texts.push(rustLines.join('\n'));
  return { themed, texts };
}

const tokensOf = (text) => new Set(text.match(/[A-Za-z0-9_-]+/g) || []);

function inputsHash(texts) {
  const h = createHash('sha256');
  for (const f of ['design-system/build.mjs', 'design-system/bootstrap-italia.scss', 'design-system/bootstrap-italia.js', 'package-lock.json']) {
    h.update(f).update(fs.readFileSync(path.join(root, f)));
  }
  // The words of the sources, not the files: an edit that names no new class or icon
  // does not rebuild.
  const words = [...tokensOf(texts.join('\n'))].sort();
  const icons = [...new Set(texts.join('\n').match(/#it-[a-z0-9-]+/g) || [])].sort();
  h.update(words.join(' ')).update(icons.join(' '));
  return h.digest('hex');
}

// --- CSS purge -------------------------------------------------------------------------
// A small parser for sass's compressed output: rules, and at-rules with blocks.
function parseBlocks(css) {
  const nodes = [];
  let i = 0;
  const n = css.length;
  function readUntil(stops) {
    let s = '';
    let depth = 0;
    while (i < n) {
      const c = css[i];
      if (c === '"' || c === "'") {
        let j = i + 1;
        while (j < n && css[j] !== c) j += css[j] === '\\' ? 2 : 1;
        s += css.slice(i, j + 1);
        i = j + 1;
        continue;
      }
      if (c === '/' && css[i + 1] === '*') {
        const j = css.indexOf('*/', i + 2);
        const comment = css.slice(i, j + 2);
        if (comment.startsWith('/*!')) s += comment;
        i = j + 2;
        continue;
      }
      if (c === '(' || c === '[') depth++;
      if (c === ')' || c === ']') depth--;
      if (depth === 0 && stops.includes(c)) return s;
      s += c;
      i++;
    }
    return s;
  }
  function parseList(top) {
    const list = [];
    while (i < n) {
      const head = readUntil('{};');
      if (i >= n) {
        if (head.trim()) list.push({ raw: head });
        break;
      }
      const c = css[i++];
      if (c === '}') {
        if (head.trim()) list.push({ raw: head });
        if (!top) return list;
        continue;
      }
      if (c === ';') {
        list.push({ raw: head + ';' });
        continue;
      }
      const prelude = head;
      if (/^\s*@(media|supports|container|layer|document)\b/.test(prelude)) {
        list.push({ at: prelude, children: parseList(false) });
      } else {
        // A rule, or an at-rule whose body is kept whole (@font-face, @keyframes, @page).
        let depth = 1;
        const start = i;
        while (i < n && depth > 0) {
          const ch = css[i];
          if (ch === '"' || ch === "'") {
            let j = i + 1;
            while (j < n && css[j] !== ch) j += css[j] === '\\' ? 2 : 1;
            i = j + 1;
            continue;
          }
          if (ch === '{') depth++;
          if (ch === '}') depth--;
          i++;
        }
        list.push({ selector: prelude, body: css.slice(start, i - 1) });
      }
    }
    return list;
  }
  nodes.push(...parseList(true));
  return nodes;
}

function splitSelectors(sel) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const c of sel) {
    if (c === '(' || c === '[') depth++;
    if (c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

// The classes a selector needs. Those inside a functional pseudo-class (:not(.x),
// :is(.a,.b), :has(...)) are not required: `:not(.disabled)` matches without it.
function requiredClasses(selector) {
  let s = '';
  let depth = 0;
  for (let k = 0; k < selector.length; k++) {
    const c = selector[k];
    if (c === '(' || c === '[') depth++;
    if (depth === 0) s += c;
    if (c === ')' || c === ']') depth--;
  }
  return (s.match(/\.(?:\\.|[\w-])+/g) || []).map((m) => m.slice(1).replace(/\\(.)/g, '$1'));
}

function purge(nodes, used, stats) {
  const kept = [];
  for (const node of nodes) {
    if (node.children) {
      const children = purge(node.children, used, stats);
      if (children.length) kept.push({ ...node, children });
    } else if (node.selector !== undefined && !node.selector.trim().startsWith('@')) {
      const selectors = splitSelectors(node.selector).filter((sel) =>
        requiredClasses(sel).every((c) => used.has(c)),
      );
      stats.total++;
      if (selectors.length) kept.push({ ...node, selector: selectors.join(',') });
      else stats.dropped++;
    } else kept.push(node);
  }
  return kept;
}

function serialize(nodes) {
  return nodes
    .map((node) => {
      if (node.children) return `${node.at}{${serialize(node.children)}}`;
      if (node.selector !== undefined) return `${node.selector}{${node.body}}`;
      return node.raw;
    })
    .join('');
}

// --- Sprite ---------------------------------------------------------------------------
function reduceSprite(svg, icons) {
  const symbols = svg.match(/<symbol\b[\s\S]*?<\/symbol>/g) || [];
  const byId = new Map(symbols.map((s) => [s.match(/\bid="([^"]+)"/)[1], s]));
  const missing = icons.filter((id) => !byId.has(id));
  if (missing.length) throw new Error(`icons not in Bootstrap Italia's sprite: ${missing.join(', ')}`);
  const open = svg.match(/^[\s\S]*?<svg\b[^>]*>/)[0];
  return { svg: `${open}${icons.map((id) => byId.get(id)).join('')}</svg>\n`, all: symbols.length };
}

// --- Main -----------------------------------------------------------------------------
function write(rel, content) {
  const file = path.join(staging, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const buf = Buffer.from(content);
  const br = zlib.brotliCompressSync(buf, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
    },
  });
  fs.writeFileSync(`${file}.br`, br);
  const gz = zlib.gzipSync(buf, { level: 9 });
  fs.writeFileSync(`${file}.gz`, gz);
  return { raw: buf.length, br: br.length, gz: gz.length };
}

function sizes(file) {
  const buf = fs.readFileSync(file);
  const br = zlib.brotliCompressSync(buf, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  });
  return { raw: buf.length, br: br.length, gz: zlib.gzipSync(buf, { level: 9 }).length };
}

async function main() {
  const force = process.argv.includes('--force');
  if (!fs.existsSync(path.join(dist, 'css/bootstrap-italia.min.css'))) {
    throw new Error('node_modules/bootstrap-italia is missing: run npm ci first');
  }
  const { texts } = sources();
  const hash = inputsHash(texts);
  if (!force && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === hash) {
    console.log('design system: up to date');
    return;
  }
  const started = Date.now();
  const { build } = await import('esbuild');
  const sass = await import('sass');

  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });

  // JS first: the classes its plugins add (show, collapsing, active, ...) must survive the purge.
  const js = await build({
    entryPoints: [path.join(root, 'design-system/bootstrap-italia.js')],
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'bootstrap',
    target: ['es2019'],
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
    absWorkingDir: root,
  });
  const jsText = js.outputFiles[0].text;

  const used = tokensOf([...texts, jsText].join('\n'));
  for (const c of SAFELIST) used.add(c);

  const compiled = sass.compile(path.join(root, 'design-system/bootstrap-italia.scss'), {
    style: 'compressed',
    loadPaths: [path.join(root, 'node_modules')],
    quietDeps: true,
    silenceDeprecations: ['import', 'global-builtin', 'color-functions', 'mixed-decls', 'slash-div'],
    logger: sass.Logger.silent,
  }).css;
  const stats = { total: 0, dropped: 0 };
  const css = serialize(purge(parseBlocks(compiled), used, stats));

  const icons = [
    ...new Set([...(texts.join('\n') + jsText).matchAll(/#(it-[a-z0-9-]+)/g)].map((m) => m[1]).concat(ICON_SAFELIST)),
  ].sort();
  const sprite = reduceSprite(fs.readFileSync(path.join(dist, 'svg/sprites.svg'), 'utf8'), icons);

  const results = {
    'css/bootstrap-italia.min.css': [sizes(path.join(dist, 'css/bootstrap-italia.min.css')), write('css/bootstrap-italia.min.css', css)],
    'js/bootstrap-italia.bundle.min.js': [sizes(path.join(dist, 'js/bootstrap-italia.bundle.min.js')), write('js/bootstrap-italia.bundle.min.js', jsText)],
    'svg/sprites.svg': [sizes(path.join(dist, 'svg/sprites.svg')), write('svg/sprites.svg', sprite.svg)],
  };
  fs.cpSync(path.join(dist, 'fonts'), path.join(staging, 'fonts'), { recursive: true });
  fs.writeFileSync(path.join(staging, path.basename(stampFile)), `${hash}\n`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(staging, out);

  const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
  console.log(`design system built in ${((Date.now() - started) / 1000).toFixed(1)} s into ${path.relative(root, out)}/`);
  console.log(`  css: ${stats.total - stats.dropped} of ${stats.total} rules kept; sprite: ${icons.length} of ${sprite.all} icons (${icons.join(' ')})`);
  for (const [file, [before, after]] of Object.entries(results)) {
    console.log(`  ${file.padEnd(34)} ${kb(before.raw).padStart(11)} -> ${kb(after.raw).padStart(10)}   brotli ${kb(before.br).padStart(10)} -> ${kb(after.br).padStart(9)}   gzip ${kb(before.gz).padStart(10)} -> ${kb(after.gz).padStart(9)}`);
  }
}

main().catch((err) => {
  console.error(`design system build failed: ${err.message}`);
  process.exit(1);
});
