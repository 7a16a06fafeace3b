// The copy icon under an answer copies the answer as it streamed, not the Markdown the page was sent.
//
// The app escapes colons that Chainlit's Markdown would read as directives ("Status\:ok", see
// ui/markdown.py), and Chainlit 2.12's copy button copies the message's content string as it is,
// escapes included (CopyButton's `content={message.output}`); no setting or escape changes that
// without changing the copied text too.  The answer as the user saw it is in the message's
// metadata: the last "assistant" row of `context` (ui/history.py).  So a click on that copy
// button (found through React's fiber: MessageButtons -> CopyButton with a contentRef, which a
// code block's own copy button has not) notes that text, and the clipboard write the button
// makes right after takes it as its text/plain part; the HTML part and the button's "copied"
// feedback stay Chainlit's.  Any other copy is left alone.
(() => {
  const clipboard = navigator.clipboard;
  if (!clipboard) return; // not a secure context: Chainlit's copy cannot work either
  let pending = null; // {text, until}: the answer a copy-button click is about to copy

  const fiberOf = (node) => {
    const key = Object.keys(node).find((k) => k.startsWith('__reactFiber$'));
    return key ? node[key] : null;
  };

  // The answer text for a click on an answer's copy button, else null.
  const answerFor = (button) => {
    let copyButton = false;
    for (let fiber = fiberOf(button); fiber; fiber = fiber.return) {
      const props = fiber.memoizedProps;
      if (!props || typeof props !== 'object') continue;
      if (!copyButton && 'content' in props && 'contentRef' in props) copyButton = true;
      if ('message' in props && props.message && typeof props.message === 'object') {
        if (!copyButton) return null;
        const message = props.message;
        if (message.type !== 'assistant_message') return null;
        const rows = (message.metadata && message.metadata.context) || [];
        for (let i = rows.length - 1; i >= 0; i--) {
          if (Array.isArray(rows[i]) && rows[i][0] === 'assistant' && typeof rows[i][1] === 'string') return rows[i][1];
        }
        return null;
      }
    }
    return null;
  };

  window.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    const text = button ? answerFor(button) : null;
    pending = text === null ? null : { text, until: Date.now() + 2000 };
  }, true);

  const take = () => {
    const noted = pending;
    pending = null;
    return noted && Date.now() <= noted.until ? noted.text : null;
  };
  const write = clipboard.write ? clipboard.write.bind(clipboard) : null;
  const writeText = clipboard.writeText.bind(clipboard);
  if (write) {
    clipboard.write = (items) => {
      const text = take();
      if (text === null || !items || !items.length) return write(items);
      const parts = { 'text/plain': new Blob([text], { type: 'text/plain' }) };
      if (items[0].types.includes('text/html')) parts['text/html'] = items[0].getType('text/html');
      return write([new ClipboardItem(parts)]);
    };
  }
  clipboard.writeText = (data) => {
    const text = take();
    return writeText(text === null ? data : text);
  };
})();
