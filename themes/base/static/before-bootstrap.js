// Loaded before Bootstrap Italia's bundle. Its embedded video.js would inject
// <style> elements at start, which our CSP (no inline styles) refuses.
window.VIDEOJS_NO_DYNAMIC_STYLE = true;
