// report_browser.cjs: loads a `mill report` page in headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core from scripts/deps.sh's node_modules) and checks what a reader sees.
//
// Usage: node report_browser.cjs PAGE.html SCREENSHOT.png EXPECT.json
// EXPECT.json: {"charts": n, "rects": n, "symbols": n, "rules": n,      marks over all charts
//               "filters": {"<filter value>": count, ...},             drill-down counts
//               "load_ms": bound, "step_ms": bound,                     time bounds
//               "doc51": doc_id of the 51st question, or null when one page holds them all}
// MILL_CHROMIUM overrides the browser binary (default /usr/bin/chromium).
// Prints "ok - ..." / "FAIL - ..." lines and the measured times; exits 1 on a failure, 77 when
// Chromium cannot start (the caller decides whether that may skip).
"use strict";
const path = require("path");
const modules = process.env.MILL_NODE_MODULES;
const { chromium } = require(path.join(modules, "playwright-core"));
const fs = require("fs");

const [page_path, shot, expect_path] = process.argv.slice(2);
const want = JSON.parse(fs.readFileSync(expect_path, "utf8"));
let failed = 0;
const check = (desc, ok, extra) => {
  console.log(`${ok ? "ok" : "FAIL"} - ${desc}${ok || extra == null ? "" : ` (${extra})`}`);
  if (!ok) failed++;
};

async function main() {
  let browser;
  try {
    const executablePath = process.env.MILL_CHROMIUM || "/usr/bin/chromium";
    browser = await chromium.launch({ headless: true, executablePath,
                                      args: ["--no-sandbox", "--disable-gpu"] });
  } catch (e) {
    console.log(`chromium cannot start: ${e.message.split("\n")[0]}`);
    process.exit(77);
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [], requests = [];
  page.on("console", m => { if (m.type() === "error" || m.type() === "warning")
                              errors.push(`${m.type()}: ${m.text()}`); });
  page.on("pageerror", e => errors.push(`pageerror: ${e.message}`));
  page.on("request", r => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
  const t0 = Date.now();
  await page.goto("file://" + path.resolve(page_path), { waitUntil: "load", timeout: 120000 });
  await page.evaluate(() => window.millChartsReady.then(() => true));
  const load_ms = Date.now() - t0;
  console.log(`load and draw: ${load_ms} ms`);
  check(`the page loads and draws within ${want.load_ms} ms`, load_ms <= want.load_ms, load_ms);

  const counts = await page.evaluate(() => [...document.querySelectorAll("div.chart")].map(d => ({
    want: JSON.parse(d.dataset.marks),
    rect: d.querySelectorAll("svg g.mark-rect.role-mark path").length,
    rule: d.querySelectorAll("svg g.mark-rule.role-mark line").length,
    symbol: d.querySelectorAll("svg g.mark-symbol.role-mark path").length,
    svg: d.querySelectorAll("svg").length,
  })));
  check(`${want.charts} charts drawn as SVG`,
        counts.length === want.charts && counts.every(c => c.svg === 1),
        JSON.stringify(counts.map(c => c.svg)));
  const sum = k => counts.reduce((s, c) => s + c[k], 0);
  for (const k of ["rect", "rule", "symbol"])
    check(`${want[k + "s"]} ${k} marks in all`, sum(k) === want[k + "s"], sum(k));
  check("each chart has the marks its data asks for",
        counts.every(c => ["rect", "rule", "symbol"].every(k => (c.want[k] || 0) === c[k])),
        JSON.stringify(counts));

  for (const [value, n] of Object.entries(want.filters)) {
    const t1 = Date.now();
    await page.selectOption("#drill-filter", value);
    const text = await page.textContent("#drill-count");
    const rows = await page.$$eval("#drill-table tr.q", r => r.length);
    const ms = Date.now() - t1;
    check(`filter ${value}: ${n} questions, ${Math.min(n, 50)} shown (${ms} ms)`,
          text.startsWith(`${n} question(s);`) && rows === Math.min(n, 50) && ms <= want.step_ms,
          `${text}; ${rows} rows; ${ms} ms`);
    if (value === "wrong-all" && n > 0) {
      const cells = await page.$$eval("#drill-table tr.q td.right", c => c.length);
      check("wrong for every model: no answer shown as right", cells === 0, cells);
    }
  }
  await page.selectOption("#drill-filter", "all");
  if (want.doc51 != null) { // more than one page
    const t2 = Date.now();
    await page.click("#drill-next");
    const text = await page.textContent("#drill-count");
    const ms = Date.now() - t2;
    check(`next page (${ms} ms)`, / page 2 of /.test(text) && ms <= want.step_ms, text);
    const first = await page.textContent("#drill-table tr.q td:nth-child(2)");
    check("page 2 starts at the 51st question", first === String(want.doc51), first);
    await page.click("#drill-prev");
  }
  const prompt = await page.$("#drill-table tr.q details summary");
  if (prompt) await prompt.click(); // a prompt unfolded in the screenshot
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  check("no console errors or warnings", errors.length === 0, errors.slice(0, 5).join(" | "));
  check("no network request", requests.length === 0, requests.slice(0, 3).join(" "));
  await browser.close();
}

main().then(() => process.exit(failed ? 1 : 0),
            e => { console.log(`FAIL - ${e.stack}`); process.exit(1); });
