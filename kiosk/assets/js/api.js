// The agent's local API (kiosk/UI_API.md): JSON over loopback, and the flow's state pushed as
// Server-Sent Events. The pages never decide what happens next; they render the `FlowView` the
// agent sends and post the person's actions.

/** The outcome of a call: `ok`, the HTTP `status` (0 if the agent did not answer), the JSON body. */
async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(path, init);
    let data = null;
    const type = res.headers.get("Content-Type") || "";
    if (type.includes("application/json")) {
      try {
        data = await res.json();
      } catch (_) {
        data = null;
      }
    }
    return { ok: res.ok, status: res.status, body: data };
  } catch (_) {
    return { ok: false, status: 0, body: null };
  }
}

/** `GET path`. */
export function get(path) {
  return call("GET", path);
}

/** `POST path` with an optional JSON body. */
export function post(path, body) {
  return call("POST", path, body);
}

/**
 * Follow the flow's state over `GET /api/events` (SSE, event `state`; the agent sends the
 * current state first, then every change). `onState(view)` gets every `FlowView`;
 * `onConnection(up)` is told when the agent stops or starts answering.
 *
 * While the stream is open it is the only source of screens: it is ordered, whereas the answer
 * to an action may arrive after the event of a later change (a verification that took 60 ms)
 * and would put a stale screen back. While it is down (EventSource retries by itself) the state
 * is polled. Returns `{ live, stop }`: `live()` says whether the stream is open.
 */
export function followState(onState, onConnection) {
  let up = null;
  let open = false;
  let source = null;
  let pollTimer = null;
  let stopped = false;

  const setUp = (value) => {
    if (value !== up) {
      up = value;
      onConnection(value);
    }
  };

  const poll = async () => {
    const res = await get("/api/state");
    if (stopped || open) {
      return;
    }
    if (res.ok && res.body) {
      setUp(true);
      onState(res.body);
    } else {
      setUp(false);
    }
  };

  const startPolling = () => {
    if (pollTimer === null) {
      pollTimer = setInterval(poll, 2000);
    }
  };
  const stopPolling = () => {
    if (pollTimer !== null) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  };

  if (typeof EventSource === "function") {
    source = new EventSource("/api/events");
    source.addEventListener("state", (event) => {
      try {
        const view = JSON.parse(event.data);
        setUp(true);
        onState(view);
      } catch (_) {
        // A malformed event is skipped; the next one repairs the screen.
      }
    });
    source.addEventListener("open", () => {
      open = true;
      stopPolling();
    });
    source.addEventListener("error", () => {
      open = false;
      startPolling();
    });
  } else {
    startPolling();
  }

  return {
    live: () => open,
    stop: () => {
      stopped = true;
      stopPolling();
      if (source) {
        source.close();
      }
    },
  };
}

/**
 * What to do with the `FlowView` an action answered. Without the stream, it is the new state.
 * With it, only a new countdown of the same screen is taken from it (the agent sends no event
 * for "more time", whose only change is the deadline); anything else comes as an event.
 */
export function actionResult(current, answer, streamLive) {
  if (!answer || typeof answer.screen !== "string") {
    return null;
  }
  if (!streamLive) {
    return answer;
  }
  if (current && answer.screen === current.screen && answer.flow_id === current.flow_id) {
    return { ...current, deadline_ms_left: answer.deadline_ms_left };
  }
  return null;
}

/**
 * How a page posts the user's actions: one at a time (a second tap while the first is on its
 * way is ignored), each answer shown only as far as it is newer than what the state stream
 * said (`actionResult`). `current()` is the flow on screen, `render` shows one, `check` sees
 * every answer first (the counter uses it to notice a lost session).
 */
export class Actions {
  constructor(current, render, check = () => {}) {
    this.current = current;
    this.render = render;
    this.check = check;
    this.busy = false;
    /** The agent's state stream (see `followState`); `null` until it starts. */
    this.stream = null;
  }

  /** Whether the state stream is connected. */
  live() {
    return Boolean(this.stream && this.stream.live());
  }

  /** Take what an action answered, as far as it is newer than what the stream said. */
  apply(res) {
    if (!res.ok) {
      return;
    }
    const next = actionResult(this.current(), res.body, this.live());
    if (next) {
      this.render(next);
    }
  }

  /** Post an action once; `null` if another is still on its way. */
  async act(path, body) {
    if (this.busy) {
      return null;
    }
    this.busy = true;
    try {
      const res = await post(path, body);
      this.check(res);
      this.apply(res);
      return res;
    } finally {
      this.busy = false;
    }
  }
}

/** The catalogue message of an error object in `lang` (Italian for `it`, English otherwise). */
export function errorMessage(error, lang) {
  if (!error) {
    return "";
  }
  if (lang === "it") {
    return error.message_it || error.message_en || error.code || "";
  }
  return error.message_en || error.message_it || error.code || "";
}
