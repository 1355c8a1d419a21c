// A render-blocking script in the head, as many sites still have: the
// browser cannot parse past it until it arrives, so fetching it early helps.
document.documentElement.dataset.app = "ready";
