// Chainlit takes one custom_js (.chainlit/config.toml); this loads the page's scripts, one concern each.
for (const name of ['copy-answer.js', 'thread-url.js']) {
  const script = document.createElement('script');
  script.src = `/public/${name}`;
  document.head.appendChild(script);
}
