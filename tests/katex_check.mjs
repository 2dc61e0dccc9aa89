// Renders every formula given on stdin (a JSON list) with the page's vendored KaTeX; prints the
// ones KaTeX refuses, one JSON object per line. Used by tests/test_examples.py.
import katex from "../static/vendor/katex/katex.mjs";
import fs from "fs";

const formulas = JSON.parse(fs.readFileSync(0, "utf8"));
for (const formula of formulas) {
  try {
    katex.renderToString(formula, {throwOnError: true, strict: "ignore"});
  } catch (error) {
    console.log(JSON.stringify({formula, error: error.message}));
  }
}
