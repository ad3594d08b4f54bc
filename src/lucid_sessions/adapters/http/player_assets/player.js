/*
 * The playback page of a session (served at /player/{session_id}): plain JavaScript, no build
 * step, no framework, no inline script, no eval (the page's Content-Security-Policy forbids
 * them).
 *
 * It reads the session id from <body data-session-id> and the access token from its own
 * address (?access_token=..., a signed player_url), asks the playback summary whether the
 * session can be played, then plays the HLS playlist with hls.js (the browser's own HLS only
 * where hls.js cannot run). The token goes to the summary and the playlist; the playlist's URIs
 * carry it already, so hls.js needs nothing more.
 *
 * The time line is labelled in wall-clock time: the summary's started_at (else the playlist's
 * first PROGRAM-DATE-TIME) plus the media time, in the browser's time zone.
 *
 * For automation: window.lucidPlayer (state, error, live, currentTime(), seek(), duration()...)
 * and <body data-state="loading|waiting|buffering|playing|paused|ended|error">.
 */
(function () {
  "use strict";

  var SPEEDS = [1, 2, 4, 8];
  var STEP_SECONDS = 10;
  var BIG_STEP_SECONDS = 60;
  var WAIT_RETRY_MS = 5000;

  var body = document.body;
  var sessionId = body.getAttribute("data-session-id") || "";
  var token = new URLSearchParams(window.location.search).get("access_token");
  var playbackUrl = "/api/v1/sessions/" + encodeURIComponent(sessionId) + "/playback";

  var $ = function (id) { return document.getElementById(id); };
  var video = $("video");
  var ui = {
    session: $("session-label"),
    live: $("live-badge"),
    status: $("status"),
    message: $("message"),
    messageTitle: $("message-title"),
    messageDetail: $("message-detail"),
    retry: $("retry"),
    timeline: $("timeline"),
    startClock: $("start-clock"),
    endClock: $("end-clock"),
    clock: $("clock"),
    position: $("position"),
    play: $("play"),
    speed: $("speed"),
    mute: $("mute"),
    goLive: $("go-live")
  };

  var model = {
    state: "loading",
    error: null,       // what went wrong, as shown, or null
    errorKind: null,   // expired | not-found | not-playable | network | server | media | unsupported
    live: false,
    startedAt: null,   // wall clock (ms since the epoch) of media time 0, or null
    targetDuration: 0,
    summary: null
  };
  var hls = null;
  var scrubbing = false;
  var mediaRecovered = false;

  var wallFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });

  // -- state and messages ---------------------------------------------------------------------

  var STATUS_TEXT = {
    loading: "Loading…", waiting: "Waiting for the recording…", buffering: "Buffering…",
    playing: "Playing", paused: "Paused", ended: "Ended", error: "Cannot play"
  };

  function setState(state) {
    if (model.state === "error") {
      return; // an error stays until the page is loaded again
    }
    model.state = state;
    body.setAttribute("data-state", state);
    ui.status.textContent = STATUS_TEXT[state] || state;
    ui.play.textContent = state === "playing" || state === "buffering" ? "Pause" : "Play";
  }

  function showMessage(title, detail, retry) {
    ui.messageTitle.textContent = title;
    ui.messageDetail.textContent = detail || "";
    ui.retry.hidden = !retry;
    ui.message.hidden = false;
  }

  function hideMessage() {
    ui.message.hidden = true;
  }

  function fail(kind, title, detail, retry) {
    if (model.state === "error") {
      return; // the first error is the one to tell
    }
    model.error = detail ? title + ": " + detail : title;
    model.errorKind = kind;
    body.setAttribute("data-error", kind);
    setState("error");
    showMessage(title, detail, retry);
    if (hls) {
      hls.stopLoad();
    }
    video.pause();
    ui.play.disabled = true;
  }

  /** The message for an HTTP status answered by the summary or the playlist. */
  function failForStatus(status, detail) {
    if (status === 401 || status === 403) {
      if (!token) {
        fail("expired", "This page needs a playback link",
             "Open the player link of a signed playback link (it carries an access_token).");
      } else {
        fail("expired", "This playback link has expired or is not valid",
             "Ask for a new playback link.");
      }
    } else if (status === 404) {
      fail("not-found", "Session not found", detail || "There is no session " + sessionId + ".");
    } else if (status === 409) {
      fail("not-playable", "This session cannot be played", detail || "");
    } else {
      fail("server", "The service could not answer (HTTP " + status + ")", detail || "", true);
    }
  }

  function setLive(live) {
    model.live = !!live;
    body.setAttribute("data-live", model.live ? "true" : "false");
    ui.live.hidden = !model.live;
    updateTimeline();
  }

  // -- time ------------------------------------------------------------------------------------

  function duration() {
    var seekable = video.seekable;
    if (seekable && seekable.length) {
      return seekable.end(seekable.length - 1);
    }
    if (isFinite(video.duration)) {
      return video.duration;
    }
    return model.summary && model.summary.duration_seconds ? model.summary.duration_seconds : 0;
  }

  function pad(number) {
    return number < 10 ? "0" + number : String(number);
  }

  function mediaTime(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var hours = Math.floor(whole / 3600);
    var text = pad(Math.floor((whole % 3600) / 60)) + ":" + pad(whole % 60);
    return hours ? hours + ":" + text : text;
  }

  function wallTime(seconds) {
    if (model.startedAt === null) {
      return mediaTime(seconds);
    }
    return wallFormat.format(new Date(model.startedAt + seconds * 1000));
  }

  function behindLiveEdge() {
    return duration() - video.currentTime > Math.max(3 * model.targetDuration, 6) + 1;
  }

  function updateTimeline() {
    var end = duration();
    var at = scrubbing ? Number(ui.timeline.value) : video.currentTime;
    ui.timeline.max = String(end);
    ui.timeline.disabled = !(end > 0) || model.state === "error";
    if (!scrubbing) {
      ui.timeline.value = String(at);
    }
    ui.timeline.style.setProperty("--filled", (end > 0 ? (100 * at) / end : 0) + "%");
    ui.clock.textContent = wallTime(at);
    ui.position.textContent = mediaTime(at) + " / " + mediaTime(end);
    ui.startClock.textContent = end > 0 ? wallTime(0) : "";
    ui.endClock.textContent = end > 0 ? wallTime(end) : "";
    var behind = model.live && behindLiveEdge();
    ui.live.classList.toggle("behind", behind);
    ui.goLive.hidden = !model.live;
  }

  // -- controls --------------------------------------------------------------------------------

  function play() {
    var started = video.play();
    if (!started || !started.catch) {
      return;
    }
    started.catch(function (error) {
      if (error && error.name === "NotAllowedError" && !video.muted) {
        // The browser lets a page start playing by itself only without sound.
        video.muted = true;
        video.play().catch(function () { setState("paused"); });
      }
    });
  }

  function togglePlay() {
    if (model.state === "error") {
      return;
    }
    if (video.paused || video.ended) {
      play();
    } else {
      video.pause();
    }
  }

  function seek(seconds) {
    var end = duration();
    var target = Math.max(0, Math.min(Number(seconds) || 0, end > 0 ? end : 0));
    video.currentTime = target;
    updateTimeline();
  }

  function setSpeed(rate) {
    rate = Number(rate);
    if (SPEEDS.indexOf(rate) < 0) {
      return;
    }
    video.defaultPlaybackRate = rate;
    video.playbackRate = rate;
    ui.speed.value = String(rate);
  }

  function goLive() {
    if (!model.live) {
      return;
    }
    var target = hls && hls.liveSyncPosition !== null ? hls.liveSyncPosition : duration() - 1;
    seek(target);
    if (video.paused) {
      play();
    }
  }

  function updateMute() {
    ui.mute.textContent = video.muted ? "Unmute" : "Mute";
  }

  ui.play.addEventListener("click", togglePlay);
  ui.speed.addEventListener("change", function () { setSpeed(ui.speed.value); });
  ui.mute.addEventListener("click", function () { video.muted = !video.muted; });
  ui.goLive.addEventListener("click", goLive);
  ui.retry.addEventListener("click", function () { window.location.reload(); });
  ui.timeline.addEventListener("input", function () {
    scrubbing = true;
    updateTimeline();
  });
  ui.timeline.addEventListener("change", function () {
    scrubbing = false;
    seek(ui.timeline.value);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || model.state === "error") {
      return;
    }
    var handled = true;
    switch (event.key) {
      case " ":
      case "Spacebar":
        togglePlay();
        break;
      case "ArrowLeft":
        seek(video.currentTime - (event.shiftKey ? BIG_STEP_SECONDS : STEP_SECONDS));
        break;
      case "ArrowRight":
        seek(video.currentTime + (event.shiftKey ? BIG_STEP_SECONDS : STEP_SECONDS));
        break;
      case "1":
      case "2":
      case "3":
      case "4":
        setSpeed(SPEEDS[Number(event.key) - 1]);
        break;
      case "l":
      case "L":
        goLive();
        break;
      case "m":
      case "M":
        video.muted = !video.muted;
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault(); // no page scroll, no range or select moving by itself
    }
  });

  video.addEventListener("playing", function () { hideMessage(); setState("playing"); });
  video.addEventListener("pause", function () { setState("paused"); });
  video.addEventListener("waiting", function () { setState("buffering"); });
  video.addEventListener("ended", function () { setState("ended"); });
  video.addEventListener("timeupdate", updateTimeline);
  video.addEventListener("durationchange", updateTimeline);
  video.addEventListener("progress", updateTimeline);
  video.addEventListener("seeked", updateTimeline);
  video.addEventListener("volumechange", updateMute);
  video.addEventListener("ratechange", function () {
    if (SPEEDS.indexOf(video.playbackRate) >= 0) {
      ui.speed.value = String(video.playbackRate);
    }
  });
  video.addEventListener("loadedmetadata", function () {
    ui.play.disabled = false;
    updateTimeline();
  });

  // -- loading ---------------------------------------------------------------------------------

  function withToken(url) {
    return token ? url + "?access_token=" + encodeURIComponent(token) : url;
  }

  function parseInstant(text) {
    var ms = text ? Date.parse(text) : NaN;
    return isNaN(ms) ? null : ms;
  }

  async function loadSummary() {
    var response;
    var answer = null;
    try {
      response = await fetch(withToken(playbackUrl), {
        cache: "no-store",
        credentials: "omit",
        headers: { Accept: "application/json" }
      });
    } catch (error) {
      fail("network", "Cannot reach the service",
           "Check the network connection, then retry.", true);
      return;
    }
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    if (response.status !== 200 || !answer) {
      failForStatus(response.status, answer && typeof answer.detail === "string" ? answer.detail : "");
      return;
    }
    onSummary(answer);
  }

  function onSummary(summary) {
    model.summary = summary;
    model.startedAt = parseInstant(summary.started_at);
    setLive(summary.live);
    if (!summary.playable) {
      var reason = summary.reason || "The recording cannot be played.";
      if (summary.live) {
        // Still recording: it may become playable (its first media arrives): ask again.
        setState("waiting");
        showMessage("Not playable yet", reason);
        window.setTimeout(loadSummary, WAIT_RETRY_MS);
      } else {
        fail("not-playable", "This session cannot be played", reason);
      }
      return;
    }
    hideMessage();
    startPlayback(withToken(playbackUrl + "/index.m3u8"));
  }

  function startPlayback(playlist) {
    if (window.Hls && window.Hls.isSupported()) {
      startHls(playlist);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      // The browser's own HLS (Safari): it follows the playlist's URIs itself.
      video.addEventListener("error", function () {
        fail("media", "The recording could not be loaded",
             "The link may have expired, or the network failed.", true);
      });
      video.src = playlist;
      play();
    } else {
      fail("unsupported", "This browser cannot play the recording",
           "It supports neither Media Source Extensions nor HLS.");
    }
  }

  function startHls(playlist) {
    var Hls = window.Hls;
    hls = new Hls({
      enableWorker: true,
      // Two target durations behind the live edge: a live viewer sees a new segment soon
      // after it is recorded (the default, three, keeps a little more in reserve).
      liveSyncDurationCount: 2,
      backBufferLength: 90
    });
    hls.on(Hls.Events.LEVEL_LOADED, function (event, data) {
      var details = data.details;
      model.targetDuration = details.targetduration || 0;
      if (model.startedAt === null && details.fragments.length) {
        var first = details.fragments[0];
        if (first.programDateTime) {
          model.startedAt = first.programDateTime - first.start * 1000;
        }
      }
      setLive(details.live);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      ui.play.disabled = false;
      play();
    });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) {
        return;
      }
      var status = data.response && data.response.code;
      if (status && status >= 400) {
        failForStatus(status, "");
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !mediaRecovered) {
        mediaRecovered = true;
        hls.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        fail("network", "Network error",
             "The recording could not be loaded (" + data.details + "); check the connection, "
             + "then retry.", true);
      } else {
        fail("media", "The recording cannot be played", data.details);
      }
    });
    hls.loadSource(playlist);
    hls.attachMedia(video);
  }

  // -- for automation ---------------------------------------------------------------------------

  window.lucidPlayer = Object.freeze({
    get state() { return model.state; },
    get error() { return model.error; },
    get errorKind() { return model.errorKind; },
    get live() { return model.live; },
    get startedAt() { return model.startedAt === null ? null : new Date(model.startedAt).toISOString(); },
    get speed() { return video.playbackRate; },
    currentTime: function () { return video.currentTime; },
    duration: duration,
    seek: seek,
    play: play,
    pause: function () { video.pause(); },
    setSpeed: setSpeed,
    goLive: goLive,
    wallClock: function () { return wallTime(video.currentTime); }
  });

  ui.session.textContent = sessionId;
  document.title = "Session " + sessionId + " · recording";
  updateMute();
  setState("loading");
  loadSummary();
})();
