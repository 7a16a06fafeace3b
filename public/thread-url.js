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

  const fetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    if (window.location.pathname === '/' && document.querySelector('[data-step-type="user_message"]')
        && listsNewThread(input, init)) {
      const id = threadId();
      if (id) window.history.replaceState(window.history.state, '', `/thread/${encodeURIComponent(id)}`);
    }
    return fetch(input, init);
  };
})();
