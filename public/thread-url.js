// A new chat's thread gets its URL without Chainlit rebuilding the page (a freeze with a long question).
//
// With history on, Chainlit 2.12 moves a new chat from "/" to "/thread/<id>" once the server says
// the thread exists: on `first_interaction` the sidebar's ThreadHistory lists the threads
// (POST /project/threads) and then, if the path is still "/", navigates.  That navigation swaps
// the route's page (Home for Thread), so React unmounts the whole chat and renders every message
// again from scratch: the question, however long, and the answer streaming meanwhile.  With a
// pasted 100,000-character document that is a ~200 ms freeze in the middle of the answer (most of
// the main-thread time bench/bench_browser_longanswer.py measured), and the page flashes.  For a
// chat already on screen that navigation changes nothing but the URL.  So when ThreadHistory asks
// for that list (no cursor) at "/" with a question on the page, this script writes the thread's URL
// into the address bar first (history.replaceState, keeping React Router's state): the thread is
// stored by then (the server sends `first_interaction` after storing it), and ThreadHistory finds
// the path changed and leaves the page as it is.  The thread id is the one the session's messages
// carry (`threadId`, read through React's fiber as copy-answer.js does).  Without an id on the
// page, or anywhere else than "/", nothing changes: Chainlit navigates as before.
// Chainlit also navigates to "/" after deleting any thread from the sidebar; when that thread is not
// the one on screen and this script wrote the URL, the URL is put back (tests/ui/test_browser_thread_delete.py).
(() => {
  const fiberOf = (node) => {
    const key = Object.keys(node).find((k) => k.startsWith('__reactFiber$'));
    return key ? node[key] : null;
  };

  // The session's thread id, from the first message on the page that carries one (the greeting).
  const threadId = () => {
    for (const step of document.querySelectorAll('[data-step-type]')) {
      for (let fiber = fiberOf(step); fiber; fiber = fiber.return) {
        const message = fiber.memoizedProps && fiber.memoizedProps.message;
        if (message && typeof message === 'object') {
          if (typeof message.threadId === 'string' && message.threadId) return message.threadId;
          break;
        }
      }
    }
    return null;
  };

  // ThreadHistory's first page of threads (no cursor), asked for right after a new chat's first message.
  const listsNewThread = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof Request ? input.url : String(input);
    if (!init || init.method !== 'POST' || typeof init.body !== 'string') return false;
    if (new URL(url, window.location.href).pathname !== '/project/threads') return false;
    try {
      const pagination = JSON.parse(init.body).pagination;
      return !!pagination && pagination.cursor === undefined;
    } catch {
      return false;
    }
  };

  // The thread a delete leaves on screen: Chainlit navigates to "/" after deleting ANY thread, which
  // for a chat whose URL this script wrote (React Router still at "/") only drops the URL, leaving the
  // chat on screen at "/" (a reload then opens an empty new chat).  Set while such a delete is pending.
  let keepAfterDelete = null;
  const written = () => {
    const id = threadId();
    return id && document.querySelector('[data-step-type="user_message"]')
      && window.location.pathname === `/thread/${encodeURIComponent(id)}` ? id : null;
  };
  const deletedThread = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof Request ? input.url : String(input);
    if (!init || init.method !== 'DELETE' || typeof init.body !== 'string') return null;
    if (new URL(url, window.location.href).pathname !== '/project/thread') return null;
    try {
      return JSON.parse(init.body).threadId || null;
    } catch {
      return null;
    }
  };

  const pushState = window.history.pushState.bind(window.history);
  window.history.pushState = (state, unused, url) => {
    pushState(state, unused, url);
    const keep = keepAfterDelete;
    if (keep && window.location.pathname === '/') {
      keepAfterDelete = null;
      // After React Router has read "/" (the route it already shows, so nothing re-renders).
      setTimeout(() => {
        if (window.location.pathname === '/' && threadId() === keep) {
          window.history.replaceState(window.history.state, '', `/thread/${encodeURIComponent(keep)}`);
        }
      }, 0);
    }
  };

  // With the sidebar closed (always, at first, on a narrow window) ThreadHistory is not mounted: Chainlit
  // never moves the chat to its thread, and a reload opened an empty new chat.  So once a question is on
  // the page at "/", the session's thread is asked for until the server has it (it stores it when the first
  // message arrives; with history off it answers 400 and this stops), and its URL is written as above.
  // The socket's own events are not watched: socket.io may carry them by long-polling or by WebSocket.
  // With the sidebar open, ThreadHistory's listing has usually written the URL first, and this does nothing.
  const asked = new Set();
  const here = (id) => window.location.pathname === '/' && threadId() === id
    && !!document.querySelector('[data-step-type="user_message"]');
  const nameStoredThread = (id, tries) => {
    if (!here(id)) return;
    window.fetch(`/project/thread/${encodeURIComponent(id)}`, { credentials: 'same-origin' }).then((response) => {
      if (response.ok) {
        if (here(id)) window.history.replaceState(window.history.state, '', `/thread/${encodeURIComponent(id)}`);
      } else if (response.status !== 400 && tries > 1) {
        setTimeout(() => nameStoredThread(id, tries - 1), 500);  // not stored yet
      }
    }, () => {});
  };
  new MutationObserver(() => {
    if (window.location.pathname !== '/' || !document.querySelector('[data-step-type="user_message"]')) return;
    const id = threadId();
    if (!id || asked.has(id)) return;
    asked.add(id);
    nameStoredThread(id, 40);
  }).observe(document.documentElement, { childList: true, subtree: true });

  const fetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    if (window.location.pathname === '/' && document.querySelector('[data-step-type="user_message"]')
        && listsNewThread(input, init)) {
      const id = threadId();
      if (id) window.history.replaceState(window.history.state, '', `/thread/${encodeURIComponent(id)}`);
    }
    const deleted = deletedThread(input, init);
    const current = deleted && written();
    if (!current || current === deleted) return fetch(input, init);
    keepAfterDelete = current;
    const forget = () => setTimeout(() => { if (keepAfterDelete === current) keepAfterDelete = null; }, 1000);
    const response = fetch(input, init);
    response.then(forget, forget);  // Chainlit navigates right when the delete succeeds, or not at all
    return response;
  };
})();
