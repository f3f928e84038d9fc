// "Download as PNG" on the research summary (/research/summary/): draws the heading, the stats,
// every Plotly figure (rendered by Plotly.toImage) with its caption, and the tables onto one
// canvas in page order, then downloads it. Everything happens in the browser.
(function () {
  const button = document.getElementById("summary-png");
  const status = document.getElementById("summary-png-status");
  const root = document.getElementById("summary-body");
  if (!button || !status || !root) return;

  const WIDTH = 1200;
  const PAD = 40;
  const INNER = WIDTH - 2 * PAD;
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const COLOURS = {ink: "#1a1a1a", muted: "#4a4a4a", line: "#c9d1db", soft: "#f3f5f8"};
  let busy = false;

  function clean(text) {
    return (text || "").replace(/\s+/g, " ").trim();
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("a chart image could not be loaded"));
      image.src = url;
    });
  }

  // --- Reading the page --------------------------------------------------------------------------

  async function readFigure(figure) {
    const plot = figure.querySelector(".js-plotly-plot");
    if (!plot) return null;
    const height = Math.round(plot.offsetHeight) || 450;
    const url = await Plotly.toImage(plot, {format: "png", width: INNER, height: height});
    return {kind: "figure", image: await loadImage(url), height: height,
            caption: clean(figure.querySelector("figcaption")?.textContent)};
  }

  function readTable(table) {
    const firstLine = (cell) => clean(cell.childNodes[0]?.textContent || cell.textContent);
    return {
      kind: "table",
      caption: clean(table.caption?.textContent),
      head: Array.from(table.querySelectorAll("thead th"), (th) => clean(th.textContent)),
      rows: Array.from(table.querySelectorAll("tbody tr"), (tr) =>
        Array.from(tr.cells, (td) => ({text: firstLine(td), span: td.colSpan, num: td.classList.contains("num")}))),
    };
  }

  // Blocks in page order: headings, the stats, figures, tables and short paragraphs or lists.
  async function readSummary() {
    const blocks = [];
    for (const node of root.querySelectorAll("h1, h2, dl.stats, figure.chart, table, :scope > p, :scope > ul > li")) {
      if (node.matches("h1")) blocks.push({kind: "heading", text: clean(node.textContent), size: 30, before: 0});
      else if (node.matches("h2")) blocks.push({kind: "heading", text: clean(node.textContent), size: 22, before: 14});
      else if (node.matches("dl.stats")) {
        blocks.push({kind: "stats", items: Array.from(node.querySelectorAll("div"), (div) => ({
          label: clean(div.querySelector("dt")?.textContent), value: clean(div.querySelector("dd")?.textContent)}))});
      } else if (node.matches("figure.chart")) {
        const figure = await readFigure(node);
        if (figure) blocks.push(figure);
      } else if (node.matches("table")) blocks.push(readTable(node));
      else blocks.push({kind: "text", text: (node.matches("li") ? "• " : "") + clean(node.textContent)});
    }
    return blocks;
  }

  // --- Drawing -----------------------------------------------------------------------------------
  // Every draw function takes (ctx, block, y, draw) and returns the y below what it drew; with
  // draw false it only measures, so the canvas can be sized before the real pass.

  function font(ctx, size, weight) {
    ctx.font = `${weight || 400} ${size}px ${FONT}`;
  }

  function wrap(ctx, text, maxWidth) {
    const lines = [];
    let line = "";
    for (const word of text.split(" ")) {
      const candidate = line ? line + " " + word : word;
      if (line && ctx.measureText(candidate).width > maxWidth) {
        lines.push(line);
        line = word;
      } else line = candidate;
    }
    if (line) lines.push(line);
    return lines;
  }

  function drawText(ctx, text, y, draw, {size = 15, weight = 400, colour = COLOURS.ink} = {}) {
    font(ctx, size, weight);
    const lineHeight = Math.round(size * 1.4);
    for (const line of wrap(ctx, text, INNER)) {
      if (draw) {
        ctx.fillStyle = colour;
        ctx.fillText(line, PAD, y + size);
      }
      y += lineHeight;
    }
    return y;
  }

  function drawStats(ctx, block, y, draw) {
    const gap = 16;
    const count = Math.max(block.items.length, 1);
    const boxWidth = (INNER - gap * (count - 1)) / count;
    const boxHeight = 70;
    block.items.forEach((item, i) => {
      if (!draw) return;
      const x = PAD + i * (boxWidth + gap);
      ctx.fillStyle = COLOURS.soft;
      ctx.strokeStyle = COLOURS.line;
      ctx.fillRect(x, y, boxWidth, boxHeight);
      ctx.strokeRect(x + 0.5, y + 0.5, boxWidth - 1, boxHeight - 1);
      font(ctx, 14);
      ctx.fillStyle = COLOURS.muted;
      ctx.fillText(item.label, x + 14, y + 24, boxWidth - 28);
      font(ctx, 22, 600);
      ctx.fillStyle = COLOURS.ink;
      ctx.fillText(item.value, x + 14, y + 54, boxWidth - 28);
    });
    return y + boxHeight + 20;
  }

  function drawFigure(ctx, block, y, draw) {
    if (draw) ctx.drawImage(block.image, PAD, y, INNER, block.height);
    y = drawText(ctx, block.caption, y + block.height + 6, draw, {size: 14, colour: COLOURS.muted});
    return y + 20;
  }

  // Column widths fit the longest text of each column, shrunk together if the table is too wide.
  function columnWidths(ctx, block) {
    const widths = block.head.map((text) => ctx.measureText(text).width + 16);
    for (const row of block.rows) {
      row.forEach((cell, i) => {
        if (cell.span === 1 && i < widths.length) widths[i] = Math.max(widths[i], ctx.measureText(cell.text).width + 16);
      });
    }
    const total = widths.reduce((a, b) => a + b, 0);
    return widths.map((w) => w * Math.min(1, INNER / total));
  }

  function drawRow(ctx, cells, widths, y, draw, header) {
    const rowHeight = 24;
    if (!draw) return y + rowHeight;
    if (header) {
      ctx.fillStyle = COLOURS.soft;
      ctx.fillRect(PAD, y, widths.reduce((a, b) => a + b, 0), rowHeight);
    }
    font(ctx, 13, header ? 600 : 400);
    ctx.fillStyle = COLOURS.ink;
    let x = PAD;
    let column = 0;
    for (const cell of cells) {
      const width = widths.slice(column, column + cell.span).reduce((a, b) => a + b, 0);
      ctx.textAlign = cell.num ? "right" : "left";
      ctx.fillText(cell.text, cell.num ? x + width - 8 : x + 8, y + 17, Math.max(width - 16, 1));
      x += width;
      column += cell.span;
    }
    ctx.textAlign = "left";
    ctx.fillStyle = COLOURS.line;
    ctx.fillRect(PAD, y + rowHeight - 1, x - PAD, 1);
    return y + rowHeight;
  }

  function drawTable(ctx, block, y, draw) {
    if (block.caption) y = drawText(ctx, block.caption, y, draw, {size: 14, colour: COLOURS.muted}) + 4;
    font(ctx, 13, 600);
    const widths = columnWidths(ctx, block);
    const numeric = (block.rows[0] || []).map((cell) => cell.num);
    y = drawRow(ctx, block.head.map((text, i) => ({text: text, span: 1, num: numeric[i]})), widths, y, draw, true);
    for (const row of block.rows) y = drawRow(ctx, row, widths, y, draw, false);
    return y + 20;
  }

  function paint(ctx, blocks, draw) {
    let y = PAD;
    for (const block of blocks) {
      if (block.kind === "heading") {
        y = drawText(ctx, block.text, y + block.before, draw, {size: block.size, weight: 700}) + 10;
      } else if (block.kind === "stats") y = drawStats(ctx, block, y, draw);
      else if (block.kind === "figure") y = drawFigure(ctx, block, y, draw);
      else if (block.kind === "table") y = drawTable(ctx, block, y, draw);
      else y = drawText(ctx, block.text, y, draw) + 6;
    }
    const stamp = "Generated by HikmaX on " + new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC.";
    return drawText(ctx, stamp, y, draw, {size: 13, colour: COLOURS.muted}) + PAD;
  }

  function renderCanvas(blocks) {
    const canvas = document.createElement("canvas");
    canvas.width = WIDTH;
    const ctx = canvas.getContext("2d");
    canvas.height = Math.ceil(paint(ctx, blocks, false));
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    paint(ctx, blocks, true);
    return canvas;
  }

  // --- Download ----------------------------------------------------------------------------------

  function toBlob(canvas) {
    return new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the PNG"))),
        "image/png");
    });
  }

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function exportPng() {
    if (busy) return;
    busy = true;
    button.setAttribute("aria-disabled", "true");
    status.textContent = "Rendering the summary as PNG…";
    try {
      if (typeof Plotly === "undefined") throw new Error("the chart library did not load");
      const canvas = renderCanvas(await readSummary());
      download(await toBlob(canvas), button.dataset.filename || "hikmax-summary.png");
      status.textContent = "PNG ready: " + (button.dataset.filename || "hikmax-summary.png") + " downloaded.";
    } catch (error) {
      status.textContent = "Could not create the PNG: " + (error && error.message ? error.message : error) + ".";
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
    }
  }

  button.addEventListener("click", exportPng);
})();
