// usage: node .crop.mjs in.png out.png y height width — a window onto a tall screenshot at 1:1.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';
const [,, input, output, y = '0', h = '900', w = '390'] = process.argv;
writeFileSync('/tmp/crop.html', `<style>body{margin:0}img{display:block;margin-top:-${y}px}</style><img src="file://${input}">`);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--allow-file-access-from-files'] });
const p = await b.newPage({ viewport: { width: +w, height: +h } });
await p.goto('file:///tmp/crop.html');
await p.waitForTimeout(200);
await p.screenshot({ path: output });
await b.close();
