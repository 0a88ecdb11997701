// Lantern's practitioner page: sign in with a key, ask for a prompt, read it, record a judgement.
// Every piece of text from the API goes into the page through textContent, never as HTML.
"use strict";

(function () {
  const KEY_STORE = "lantern.apiKey"; // sessionStorage only: gone when the tab closes
  const CHILD_ID = /^[A-Za-z0-9_-]{1,64}$/;
  const FIELD_NAMES = {
    child_id: "The child's id",
    purpose: "The purpose",
    note: "The note",
    view: "Your view",
  };
  const api = (path) => new URL("../" + path, document.baseURI).toString();

  const $ = (id) => document.getElementById(id);
  const ui = {
    error: $("error"),
    status: $("status"),
    signIn: $("sign-in"),
    signInForm: $("sign-in-form"),
    key: $("api-key"),
    signOut: $("sign-out"),
    ask: $("ask"),
    askForm: $("ask-form"),
    askButton: $("ask-button"),
    childId: $("child-id"),
    purpose: $("purpose"),
    prompt: $("prompt"),
    promptHeading: $("prompt-heading"),
    advisory: $("advisory-text"),
    facts: $("prompt-facts"),
    models: $("models"),
    invitation: $("judgement-invitation"),
    judgementForm: $("judgement-form"),
    judgementButton: $("judgement-button"),
    note: $("note"),
    done: $("judgement-done"),
  };
  let current = null; // the prompt on screen

  // ---------------------------------------------------------------- small helpers

  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const opts = options || {};
    if (opts.className) node.className = opts.className;
    if (opts.id) node.id = opts.id;
    for (const [name, value] of Object.entries(opts.attrs || {})) node.setAttribute(name, value);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function say(message) {
    ui.status.textContent = message;
  }

  function showError(message) {
    ui.error.textContent = "";
    if (message) ui.error.append(el("p", {}, message));
    ui.error.classList.toggle("is-shown", Boolean(message));
  }

  function markInvalid(input, invalid) {
    if (invalid) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function percent(share) {
    const rounded = Math.round(Math.max(0, Math.min(1, Number(share) || 0)) * 100);
    return rounded >= 1 ? rounded + "%" : "under 1%";
  }

  function readableDate(text) {
    if (!text) return "";
    const when = new Date(text);
    if (Number.isNaN(when.getTime())) return String(text);
    const day = { day: "numeric", month: "long", year: "numeric" };
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
      return when.toLocaleDateString("en-GB", { ...day, timeZone: "UTC" });
    }
    return when.toLocaleString("en-GB", { ...day, hour: "2-digit", minute: "2-digit" });
  }

  // ---------------------------------------------------------------- talking to Lantern

  async function call(method, path, body, key) {
    const headers = { Accept: "application/json", Authorization: "Bearer " + key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(api(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      return {
        ok: false,
        status: 0,
        message:
          "Lantern could not be reached. Check your network connection and try again; " +
          "tell your Lantern administrator if this keeps happening.",
      };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.ok && data !== null) return { ok: true, status: response.status, data };
    return { ok: false, status: response.status, message: problem(response.status, data) };
  }

  function problem(status, data) {
    const detail = data && typeof data === "object" ? data.detail || data.error : null;
    if (typeof detail === "string" && detail) {
      const error = typeof data.error === "string" && data.error !== detail ? data.error : "";
      const sentence = detail.charAt(0).toUpperCase() + detail.slice(1);
      return error ? `${capitalise(error)}: ${sentence}` : sentence;
    }
    if (data && Array.isArray(data.detail) && data.detail.length) {
      const named = data.detail.map((item) => {
        const field = FIELD_NAMES[(item.loc || []).slice(-1)[0]] || "The request";
        return `${field}: ${String(item.msg || "is not acceptable").toLowerCase()}.`;
      });
      return "Lantern could not accept the request. " + named.join(" ");
    }
    if (status === 400 || status === 422) {
      return "Lantern could not read the request. Check the child's id and the purpose.";
    }
    return `Lantern answered with an error (HTTP ${status}). Try again shortly, and tell your ` +
      "Lantern administrator if this keeps happening.";
  }

  function capitalise(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // ---------------------------------------------------------------- signing in and out

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORE);
    } catch (err) {
      return null;
    }
  }

  function showSignedIn(signedIn) {
    ui.signIn.hidden = signedIn;
    ui.ask.hidden = !signedIn;
    ui.signOut.hidden = !signedIn;
    if (!signedIn) clearPrompt();
  }

  async function signIn(event) {
    event.preventDefault();
    const key = ui.key.value.trim();
    showError("");
    if (!key) {
      markInvalid(ui.key, true);
      showError("Enter your Lantern API key to sign in.");
      ui.key.focus();
      return;
    }
    markInvalid(ui.key, false);
    say("Checking your key…");
    const answer = await call("GET", "model_card", undefined, key);
    if (!answer.ok && (answer.status === 401 || answer.status === 403 || answer.status === 0)) {
      say("");
      markInvalid(ui.key, true);
      showError(answer.message);
      ui.key.focus();
      return;
    }
    try {
      window.sessionStorage.setItem(KEY_STORE, key);
    } catch (err) {
      say("");
      showError(
        "This browser does not let the page keep your key for this tab. Allow this site to " +
          "store data for the session, then sign in again.",
      );
      return;
    }
    ui.key.value = "";
    showSignedIn(true);
    say("Signed in. Enter the child's id and your purpose.");
    ui.childId.focus();
  }

  function signOut(message) {
    try {
      window.sessionStorage.removeItem(KEY_STORE);
    } catch (err) {
      // storage unavailable: nothing was kept
    }
    ui.askForm.reset();
    showSignedIn(false);
    say(typeof message === "string" ? message : "Signed out. Your key has been forgotten.");
    ui.key.focus();
  }

  function refusedKey(answer) {
    // A key revoked while signed in: forget it and ask for a new one.
    if (answer.status !== 401) return false;
    signOut("You have been signed out.");
    showError(answer.message);
    return true;
  }

  // ---------------------------------------------------------------- asking for a prompt

  async function ask(event) {
    event.preventDefault();
    const key = storedKey();
    if (!key) {
      signOut("Please sign in first.");
      return;
    }
    const childId = ui.childId.value.trim();
    const purpose = ui.purpose.value.trim();
    const problems = [];
    markInvalid(ui.childId, !CHILD_ID.test(childId));
    markInvalid(ui.purpose, purpose.length < 3);
    if (!childId) problems.push([ui.childId, "Enter the child's id."]);
    else if (!CHILD_ID.test(childId)) {
      problems.push([
        ui.childId,
        "The child's id can hold only letters, digits, hyphens and underscores (up to 64).",
      ]);
    }
    if (purpose.length < 3) {
      problems.push([
        ui.purpose,
        "Enter the purpose of this request (at least 3 characters): it is recorded in the " +
          "audit log.",
      ]);
    }
    if (problems.length) {
      showError(problems.map((p) => p[1]).join(" "));
      problems[0][0].focus();
      return;
    }
    showError("");
    clearPrompt();
    ui.askButton.disabled = true;
    say("Asking Lantern for the prompt…");
    const answer = await call("POST", "prompt", { child_id: childId, purpose }, key);
    ui.askButton.disabled = false;
    if (!answer.ok) {
      say("");
      if (refusedKey(answer)) return;
      showError(answer.message);
      (answer.status === 404 ? ui.childId : ui.purpose).focus();
      return;
    }
    showPrompt(answer.data);
    say("The prompt is ready below.");
    ui.promptHeading.focus();
  }

  function clearPrompt() {
    current = null;
    ui.prompt.hidden = true;
    ui.models.textContent = "";
    ui.facts.textContent = "";
    ui.advisory.textContent = "";
    ui.invitation.textContent = "";
    ui.judgementForm.reset();
    ui.judgementForm.hidden = false;
    ui.judgementButton.disabled = false;
    ui.done.hidden = true;
    ui.done.textContent = "";
  }

  // ---------------------------------------------------------------- showing a prompt

  function showPrompt(prompt) {
    current = prompt;
    ui.promptHeading.textContent = `Advisory prompt for child ${prompt.child_id}`;
    ui.advisory.textContent = prompt.advisory_notice;
    ui.invitation.textContent = prompt.judgement_invitation;
    const facts = [
      ["Purpose you gave", prompt.purpose],
      ["Records as at", readableDate(prompt.snapshot_date)],
      ["Issued", readableDate(prompt.issued_at)],
      ["Prompt reference", prompt.prompt_id],
    ];
    // which agencies' records were linked into this child's, and one linked with less confidence
    if (prompt.linkage) facts.push(["How the records were linked", prompt.linkage.sentences.join(" ")]);
    for (const [term, value] of facts) {
      if (value) ui.facts.append(el("dt", {}, term), el("dd", {}, String(value)));
    }
    for (const model of prompt.models || []) ui.models.append(modelSection(model));
    ui.prompt.hidden = false;
  }

  function modelSection(model) {
    const id = "model-" + String(model.model).replace(/[^A-Za-z0-9_-]/g, "");
    const section = el("section", {
      className: "model",
      attrs: { "aria-labelledby": id },
    });
    section.append(el("h3", { id }, capitalise(String(model.title || model.model))));

    const band = model.band || {};
    const rank = model.rank || {};
    section.append(
      el(
        "div",
        { className: "band" },
        el("p", { className: "band-name" }, "Estimated likelihood: ", el("strong", {}, band.name)),
        el("p", {}, capitalise(String(band.meaning || "")) + "."),
      ),
      el("p", { className: "rank" }, rank.meaning || ""),
    );

    for (const note of model.context || []) {
      section.append(
        el("p", { className: "context", title: note.note }, `${note.sentence}. ${note.note}`),
      );
    }

    section.append(el("h4", {}, "What raises concern"));
    section.append(reasonList(model.reasons, "No records raise the estimate noticeably."));

    section.append(el("h4", {}, "What is going well"));
    section.append(
      reasonList(model.protective, "The records show nothing that lowers the estimate noticeably."),
    );

    if (model.where_from) section.append(el("p", { className: "where-from" }, model.where_from));

    const changes = model.what_would_change || [];
    if (changes.length) {
      section.append(el("h4", {}, "What would change"));
      section.append(el("ul", { className: "changes" }, ...changes.map((c) => el("li", {}, c.sentence))));
      section.append(el("p", { className: "change-note" }, changes[0].note));
    }

    section.append(el("h4", {}, "What the records do not show"));
    const missing = model.missing || [];
    const unrecorded = model.unrecorded || [];
    if (missing.length || unrecorded.length) {
      // whole sources missing, then each unrecorded item and how far its gap moved the estimate
      const items = [...missing, ...unrecorded].map((m) => el("li", {}, m.sentence));
      section.append(el("ul", { className: "missing" }, ...items));
    } else {
      section.append(el("p", {}, "No records this model reads are missing for this child."));
    }

    const made = [`Model version ${model.version}`];
    if (model.trained_at) made.push(`trained ${readableDate(model.trained_at)}`);
    if (model.test_date) made.push(`tested on records as at ${readableDate(model.test_date)}`);
    section.append(el("p", { className: "model-version" }, made.join(", ") + "."));
    return section;
  }

  function reasonList(reasons, none) {
    if (!reasons || !reasons.length) return el("p", {}, none);
    const list = el("ul", { className: "reasons" });
    for (const reason of reasons) {
      const share = percent(reason.share);
      const raises = reason.direction !== "protective";
      const fill = el("span", { className: "bar-fill " + (raises ? "concern" : "protective") });
      fill.style.width = share.startsWith("under") ? "1%" : share;
      list.append(
        el(
          "li",
          { className: "reason" },
          el("span", { className: "reason-sentence" }, reason.sentence),
          el(
            "span",
            { className: "reason-meta" },
            `${reason.agency} records · ${reason.direction}`,
          ),
          el(
            "span",
            { className: "reason-weight" },
            el("span", { className: "bar", attrs: { "aria-hidden": "true" } }, fill),
            el("span", { className: "bar-text" }, `${share} of the weight behind this estimate`),
          ),
        ),
      );
    }
    return list;
  }

  // ---------------------------------------------------------------- recording a judgement

  async function recordJudgement(event) {
    event.preventDefault();
    const key = storedKey();
    if (!key || !current) {
      showError("Ask for a prompt first, then record your judgement on it.");
      return;
    }
    const chosen = ui.judgementForm.querySelector('input[name="view"]:checked');
    if (!chosen) {
      showError("Choose whether you agree or disagree with the prompt.");
      $("view-agree").focus();
      return;
    }
    showError("");
    ui.judgementButton.disabled = true;
    say("Recording your judgement…");
    const body = { prompt_id: current.prompt_id, view: chosen.value, note: ui.note.value.trim() };
    const answer = await call("POST", "judgement", body, key);
    ui.judgementButton.disabled = false;
    if (!answer.ok) {
      say("");
      if (refusedKey(answer)) return;
      showError(answer.message);
      return;
    }
    const view = answer.data.view === "agree" ? "agree" : "disagree";
    ui.judgementForm.hidden = true;
    ui.done.textContent =
      `Your judgement has been recorded: you ${view} with this prompt` +
      (body.note ? ", with your note." : ".") +
      " Thank you.";
    ui.done.hidden = false;
    say("Your judgement has been recorded.");
    ui.done.focus();
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    ui.signInForm.addEventListener("submit", signIn);
    ui.signOut.addEventListener("click", () => signOut());
    ui.askForm.addEventListener("submit", ask);
    ui.judgementForm.addEventListener("submit", recordJudgement);
    showSignedIn(Boolean(storedKey()));
  }

  start();
})();
