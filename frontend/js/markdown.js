// A small Markdown renderer for the model card. It builds DOM nodes directly, so
// any HTML in the source shows up as literal text instead of markup.
// Supported: ATX headings, paragraphs, pipe tables, flat bullet and numbered
// lists, fenced code, block quotes, horizontal rules, and inline code, bold,
// italics, links (http, https and in-page only) and images found in `images`.
// NOTE: nested lists are flattened and reference-style links are shown as text.

import { h } from "./dom.js";

let activeUsed = new Set();

const INLINE =
  /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(!?\[[^\]]*\]\([^)\s]*\))/;

function safeHref(url) {
  return /^(https?:\/\/|#)/i.test(url) ? url : null;
}

function renderInline(text, images) {
  const nodes = [];
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      nodes.push(rest);
      break;
    }
    if (match.index > 0) nodes.push(rest.slice(0, match.index));
    const token = match[0];
    if (match[1]) {
      nodes.push(h("code", {}, token.slice(1, -1)));
    } else if (match[2]) {
      nodes.push(h("strong", {}, renderInline(token.slice(2, -2), images)));
    } else if (match[3]) {
      nodes.push(h("em", {}, renderInline(token.slice(1, -1), images)));
    } else {
      const [, bang, label, url] = /^(!?)\[([^\]]*)\]\(([^)\s]*)\)$/.exec(token);
      if (bang) {
        const name = url
          .split("/")
          .pop()
          .replace(/\.png$/i, "");
        const source = images[name] || images[url];
        if (source) activeUsed.add(images[name] ? name : url);
        nodes.push(
          source ? h("img", { src: source, alt: label, class: "plot" }) : `[image: ${label}]`,
        );
      } else {
        const href = safeHref(url);
        nodes.push(
          href ? h("a", { href, rel: "noopener noreferrer" }, renderInline(label, images)) : label,
        );
      }
    }
    rest = rest.slice(match.index + token.length);
  }
  return nodes;
}

function splitRow(line) {
  return line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((cell) => cell.trim());
}

const TABLE_SEPARATOR = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
// A short cell with a digit (a count, a metric, an interval) does not wrap, so a
// wide table scrolls inside its .table-scroll box instead.
const NUMERIC_CELL = /^(?=.*\d).{1,40}$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

/**
 * Render `markdown` into a DocumentFragment.
 * `images` maps a plot name (file name without .png) to a data: URL; the names of
 * the images placed in the text are added to `used`.
 */
export function renderMarkdown(markdown, images = {}, used = new Set()) {
  activeUsed = used;
  const lines = String(markdown || "")
    .replace(/\r\n?/g, "\n")
    .split("\n");
  const fragment = document.createDocumentFragment();
  let index = 0;
  while (index < lines.length) {
    const line = lines[index];
    if (!line.trim()) {
      index += 1;
      continue;
    }
    if (line.trim().startsWith("```")) {
      const code = [];
      index += 1;
      while (index < lines.length && !lines[index].trim().startsWith("```"))
        code.push(lines[index++]);
      index += 1;
      fragment.append(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      // Shift levels by one: the page already has its own h1.
      const level = Math.min(6, heading[1].length + 1);
      fragment.append(h(`h${level}`, {}, renderInline(heading[2], images)));
      index += 1;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      fragment.append(h("hr"));
      index += 1;
      continue;
    }
    if (line.includes("|") && index + 1 < lines.length && TABLE_SEPARATOR.test(lines[index + 1])) {
      const header = splitRow(line);
      index += 2;
      const rows = [];
      while (index < lines.length && lines[index].includes("|") && lines[index].trim())
        rows.push(splitRow(lines[index++]));
      fragment.append(
        h(
          "div",
          { class: "table-scroll" },
          h(
            "table",
            { class: "data" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                header.map((cell) => h("th", { scope: "col" }, renderInline(cell, images))),
              ),
            ),
            h(
              "tbody",
              {},
              rows.map((row) =>
                h(
                  "tr",
                  {},
                  row.map((cell) =>
                    h(
                      "td",
                      { class: NUMERIC_CELL.test(cell) ? "nowrap" : null },
                      renderInline(cell, images),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
      continue;
    }
    const listPattern = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null;
    if (listPattern) {
      const items = [];
      while (index < lines.length && lines[index].trim()) {
        const item = listPattern.exec(lines[index]);
        if (item) items.push(item[1]);
        else if (items.length) items[items.length - 1] += ` ${lines[index].trim()}`;
        index += 1;
      }
      const tag = listPattern === BULLET ? "ul" : "ol";
      fragment.append(
        h(
          tag,
          {},
          items.map((item) => h("li", {}, renderInline(item, images))),
        ),
      );
      continue;
    }
    if (line.startsWith(">")) {
      const quoted = [];
      while (index < lines.length && lines[index].startsWith(">"))
        quoted.push(lines[index++].replace(/^>\s?/, ""));
      fragment.append(h("blockquote", {}, renderMarkdown(quoted.join("\n"), images, used)));
      continue;
    }
    const paragraph = [];
    while (
      index < lines.length &&
      lines[index].trim() &&
      !/^(#{1,6}\s|```|>)/.test(lines[index]) &&
      !BULLET.test(lines[index]) &&
      !(
        lines[index].includes("|") &&
        index + 1 < lines.length &&
        TABLE_SEPARATOR.test(lines[index + 1])
      )
    ) {
      paragraph.push(lines[index++].trim());
    }
    if (!paragraph.length) {
      // A line that looks like a block start but did not parse as one.
      paragraph.push(lines[index++].trim());
    }
    fragment.append(h("p", {}, renderInline(paragraph.join(" "), images)));
  }
  return fragment;
}
