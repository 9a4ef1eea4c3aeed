// storyclust report: draws the stories embedded as JSON in #storyclust-data.
// Only what is on screen is built: a page of stories at a time (more on scroll or
// on "Show more"), the first few articles of each story, article bodies when opened.
(function () {
  "use strict";
  const t0 = performance.now();
  const data = JSON.parse(document.getElementById("storyclust-data").textContent);
  const A = data.articles;
  const S = data.stories;
  const PAGE = data.page_size;
  const ARTICLES_FIRST = 5; // article rows drawn per story before "show all"
  const OUTLETS_FIRST = 8;

  // Words as in storyclust.report.shared_spans: one token per character in scripts
  // written without spaces, else runs of letters, digits and underscores.
  const UNSPACED =
    "\\u0e00-\\u0e7f\\u0e80-\\u0eff\\u1000-\\u109f\\u1780-\\u17ff" +
    "\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff\\u{20000}-\\u{2fa1f}";
  const TOKEN = new RegExp(
    "[" + UNSPACED + "]|(?:(?![" + UNSPACED + "])[\\p{L}\\p{N}_])+",
    "gu",
  );

  function tokens(text) {
    const out = [];
    for (const m of text.matchAll(TOKEN)) {
      out.push([m.index, m.index + m[0].length, m[0].toLowerCase()]);
    }
    return out;
  }

  function gram(words, i, n) {
    let key = words[i][2];
    for (let j = 1; j < n; j++) key += " " + words[i + j][2];
    return key;
  }

  // Passages of `text` covered by word n-grams that also occur in `other`.
  function sharedSpans(text, other, n) {
    const words = tokens(text);
    const theirs = tokens(other);
    const result = { spans: [], shared: 0, words: words.length };
    if (words.length < n || theirs.length < n) return result;
    const grams = new Set();
    for (let i = 0; i + n <= theirs.length; i++) grams.add(gram(theirs, i, n));
    const covered = new Uint8Array(words.length);
    for (let i = 0; i + n <= words.length; i++) {
      if (grams.has(gram(words, i, n))) covered.fill(1, i, i + n);
    }
    for (let k = 0; k < words.length; k++) {
      if (!covered[k]) continue;
      result.shared++;
      if (k > 0 && covered[k - 1]) result.spans[result.spans.length - 1][1] = words[k][1];
      else result.spans.push([words[k][0], words[k][1]]);
    }
    return result;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function plural(n, one, many) {
    return n.toLocaleString("en") + " " + (n === 1 ? one : many || one + "s");
  }

  function snippet(text, n) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length <= n ? flat : flat.slice(0, n - 1) + "…";
  }

  function day(iso) {
    if (!iso) return "";
    const time = iso.slice(11, 16);
    return iso.slice(0, 10) + (time && time !== "00:00" ? " " + time : "");
  }

  function timeSpan(first, last) {
    if (!first) return "undated";
    if (!last || day(first) === day(last)) return day(first);
    const days = Math.round((Date.parse(last) - Date.parse(first)) / 864e5);
    return day(first) + " → " + day(last) + " (" + plural(days, "day") + ")";
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function withMarks(text, spans) {
    const pre = el("pre", "text");
    let at = 0;
    for (const [start, end] of spans) {
      if (start > at) pre.append(text.slice(at, start));
      pre.append(el("mark", null, text.slice(start, end)));
      at = end;
    }
    pre.append(text.slice(at));
    return pre;
  }

  function column(label, p, spans) {
    const col = el("div", "col");
    const h = el("h3", null, label + " · " + (A.source[p] || "no outlet"));
    if (A.published[p]) h.append(" · " + day(A.published[p]));
    const url = safeUrl(A.url[p]);
    if (url) {
      const a = el("a", null, "open original");
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      h.append(" · ", a);
    }
    col.append(h);
    col.append(withMarks(A.text[p] || A.title[p], spans));
    return col;
  }

  function articleBody(story, p) {
    const body = el("div", "article-body");
    if (p === story.rep) {
      body.append(el("p", "shared-stats", "The story's representative: the article the others are compared with."));
      const cols = el("div", "columns single");
      cols.append(column("Representative", p, []));
      body.append(cols);
      return body;
    }
    const rep = story.rep;
    const mine = sharedSpans(A.text[p], A.text[rep], data.ngram);
    const theirs = sharedSpans(A.text[rep], A.text[p], data.ngram);
    const stats = el("p", "shared-stats");
    if (mine.spans.length) {
      const pct = Math.round((100 * mine.shared) / Math.max(mine.words, 1));
      stats.append(
        "Shares " + plural(mine.spans.length, "passage") + " with the representative (" +
          mine.shared + " of " + plural(mine.words, "word") + ", " + pct + "%), ",
        el("mark", null, "highlighted"),
        ": runs of " + data.ngram + "+ words found in both.",
      );
    } else {
      stats.append(
        "No run of " + data.ngram + " words in common with the representative: a rewrite, " +
          "joined by its vocabulary, headline, names and timing.",
      );
    }
    if (A.to_rep[p] !== null) stats.append(" Link score " + A.to_rep[p].toFixed(2) + ".");
    body.append(stats);
    const cols = el("div", "columns");
    cols.append(column("This article", p, mine.spans), column("Representative", rep, theirs.spans));
    body.append(cols);
    return body;
  }

  function articleRow(story, p) {
    const li = el("li", "article");
    li.dataset.article = A.id[p];
    const head = el("button", "article-head");
    head.type = "button";
    head.setAttribute("aria-expanded", "false");
    head.append(el("span", "a-title", A.title[p] || snippet(A.text[p], 140)));
    const meta = el("span", "a-meta", [A.source[p] || "no outlet", day(A.published[p])].filter(Boolean).join(" · "));
    if (p === story.rep) meta.prepend(el("span", "rep-tag", "representative"), " · ");
    head.append(meta);
    head.addEventListener("click", function () {
      let body = li.querySelector(".article-body");
      if (!body) {
        body = articleBody(story, p);
        li.append(body);
      } else {
        body.hidden = !body.hidden;
      }
      li.classList.toggle("open", !body.hidden);
      head.setAttribute("aria-expanded", String(!body.hidden));
    });
    li.append(head);
    return li;
  }

  function outletsLine(story) {
    const line = el("p", "outlets");
    const all = story.outlets;
    if (!all.length) {
      line.textContent = "No outlet given";
      return line;
    }
    line.append("Outlets: " + all.slice(0, OUTLETS_FIRST).join(", "));
    if (all.length > OUTLETS_FIRST) {
      const more = el("button", "linkish", "+" + (all.length - OUTLETS_FIRST) + " more");
      more.type = "button";
      more.addEventListener("click", function () {
        line.textContent = "Outlets: " + all.join(", ");
      });
      line.append(" ", more);
    }
    return line;
  }

  function storyCard(story, rank) {
    const card = el("article", "story");
    card.dataset.story = String(story.id);
    const head = el("div", "story-head");
    // A story without a headline is titled by the start of its representative's text,
    // already ending in "…" where it was cut (storyclust.result.title_from_text).
    const title = snippet(story.title, 200);
    head.append(el("span", "rank", "#" + rank), el("h2", null, title || "(no title)"));
    card.append(head);
    const facts = el("p", "facts");
    facts.append(el("strong", null, plural(story.size, "article")));
    facts.append(
      " · " + plural(story.outlets.length, "outlet") +
        " · " + plural(story.n_reports, "distinct report") +
        " · " + timeSpan(story.first, story.last) +
        " · cohesion " + story.cohesion.toFixed(2) +
        " · story " + story.id,
    );
    card.append(facts);
    if (story.keywords.length) {
      const kw = el("p", "keywords");
      for (const word of story.keywords) kw.append(el("span", "kw", word));
      card.append(kw);
    }
    card.append(outletsLine(story));
    const list = el("ol", "articles");
    const first = story.articles.slice(0, ARTICLES_FIRST);
    for (const p of first) list.append(articleRow(story, p));
    card.append(list);
    if (story.articles.length > first.length) {
      const rest = el("button", "linkish show-all", "Show all " + plural(story.articles.length, "article"));
      rest.type = "button";
      rest.addEventListener("click", function () {
        for (const p of story.articles.slice(ARTICLES_FIRST)) list.append(articleRow(story, p));
        rest.remove();
      });
      const wrap = el("p", "keywords");
      wrap.append(rest);
      card.append(wrap);
    }
    return card;
  }

  // --- the list: which stories match, and how many of them are drawn -------------
  const main = document.getElementById("stories");
  const moreButton = document.getElementById("more");
  const search = document.getElementById("search");
  const count = document.getElementById("count");
  const none = document.getElementById("none");
  let matching = S.map(function (_, k) { return k; });
  let drawn = 0;
  let query = [];
  let haystacks = null;

  function drawMore() {
    const stop = Math.min(drawn + PAGE, matching.length);
    const frag = document.createDocumentFragment();
    for (let k = drawn; k < stop; k++) frag.append(storyCard(S[matching[k]], matching[k] + 1));
    main.append(frag);
    drawn = stop;
    const left = matching.length - drawn;
    moreButton.hidden = left === 0;
    moreButton.textContent = "Show more stories (" + left.toLocaleString("en") + " more)";
    showCount();
  }

  function showCount() {
    const total = S.length;
    let text = !query.length
      ? plural(total, "story", "stories") + " of " + plural(data.n_articles, "article") + ", largest first"
      : matching.length.toLocaleString("en") + " of " + plural(total, "story", "stories") +
        " have words starting with each of: " + query.join(", ");
    if (drawn < matching.length) text += " (showing " + drawn.toLocaleString("en") + "; scroll for more)";
    count.textContent = text;
    count.dataset.matching = String(matching.length);
    count.dataset.drawn = String(drawn);
    none.hidden = matching.length !== 0;
  }

  // The words of a story, each after a space, so that " " + w finds the words starting with w.
  function haystack(story) {
    const parts = [story.title, story.keywords.join(" "), story.outlets.join(" ")];
    for (const p of story.articles) parts.push(A.title[p], A.source[p], A.text[p]);
    return " " + tokens(parts.join("\n")).map(function (t) { return t[2]; }).join(" ");
  }

  function filter() {
    query = tokens(search.value).map(function (t) { return t[2]; });
    if (!query.length) {
      matching = S.map(function (_, k) { return k; });
    } else {
      if (haystacks === null) haystacks = S.map(haystack);
      matching = [];
      for (let k = 0; k < S.length; k++) {
        const h = haystacks[k];
        if (query.every(function (w) { return h.includes(" " + w); })) matching.push(k);
      }
    }
    main.replaceChildren();
    drawn = 0;
    window.scrollTo(0, 0);
    drawMore();
  }

  let pending = 0;
  search.addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(filter, 150);
  });
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      clearTimeout(pending);
      filter();
    } else if (event.key === "Escape") {
      search.value = "";
      clearTimeout(pending);
      filter();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== search) {
      event.preventDefault();
      search.focus();
    }
  });
  moreButton.addEventListener("click", drawMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; }) && drawn < matching.length) drawMore();
    }, { rootMargin: "400px" }).observe(moreButton);
  }

  const settings = Object.entries(data.settings)
    .map(function (kv) { return kv[0] + " " + kv[1]; })
    .join(", ");
  document.getElementById("summary").textContent =
    plural(data.n_articles, "article") + " · " + plural(data.n_stories, "story", "stories") + " · " +
    plural(data.n_links, "scored link") + " · " + settings + " · storyclust " + data.version +
    ". Click an article to read it beside the story's representative.";
  const notes = (data.recorded && data.recorded.notes) || [];
  if (notes.length) {
    const list = document.getElementById("notes");
    notes.forEach(function (note) {
      const item = document.createElement("li");
      item.textContent = "Note: " + note;
      list.appendChild(item);
    });
    list.hidden = false;
  }
  drawMore();
  window.storyclustReport = {
    ready: true,
    msToFirstPage: performance.now() - t0,
    sharedSpans: sharedSpans,
  };
})();
