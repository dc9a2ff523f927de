// Page weight and time to interactive of the admin console, printed (not
// asserted): headless Chromium against a real llmd over TLS, cold cache.
//   weight: bytes on the wire for the first load of /admin/ (llmd sends
//           them uncompressed) and what gzip -9 would make of them;
//   interactive: navigation start until the sign-in form works, and from
//                pressing Sign in until the overview shows its devices.
import zlib from 'node:zlib';
import { startServer, launchBrowser } from './harness.mjs';

const RUNS = Number(process.env.LLMD_CONSOLE_BENCH_RUNS || 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await startServer();
const browser = await launchBrowser();
try {
  const signinMs = [];
  const overviewMs = [];
  let files = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setCacheEnabled(false);
    const responses = [];
    page.on('response', (r) => responses.push(r));
    const t0 = Date.now();
    await page.goto(`${server.url}/admin/`);
    await page.waitForSelector('body[data-ready="true"]');
    signinMs.push(Date.now() - t0);
    if (run === 0) {
      files = await Promise.all(responses.map(async (r) => {
        const body = await r.buffer();
        return { url: r.url().replace(server.url, ''), bytes: body.length, gzip: zlib.gzipSync(body, { level: 9 }).length };
      }));
    }
    await page.type('#admin-key', server.adminKey);
    const t1 = Date.now();
    await page.click('#signin-form button');
    await page.waitForSelector('[data-device="cpu:1"] .bar');
    overviewMs.push(Date.now() - t1);
    await context.close();
  }
  const total = files.reduce((s, f) => s + f.bytes, 0);
  const gz = files.reduce((s, f) => s + f.gzip, 0);
  console.log('first load of /admin/ (every file):');
  for (const f of files) console.log(`  ${f.url.padEnd(32)} ${String(f.bytes).padStart(8)} B   gzip ${String(f.gzip).padStart(7)} B`);
  console.log(`  ${'total'.padEnd(32)} ${String(total).padStart(8)} B   gzip ${String(gz).padStart(7)} B  (${files.length} requests)`);
  console.log(`time to interactive (sign-in form), median of ${RUNS}: ${median(signinMs)} ms  [${signinMs.join(', ')}]`);
  console.log(`sign in -> overview with devices, median of ${RUNS}: ${median(overviewMs)} ms  [${overviewMs.join(', ')}]`);
} finally {
  await browser.close();
  await server.stop();
}
