/*
 * The gateway client (spec/client-api.md §6): HELLO, IDENTIFY or RESUME, heartbeats,
 * dispatches, and reconnection.
 *
 * A dropped connection is resumed: the server replays every dispatch the session missed,
 * so a laptop waking from sleep catches up without reloading. Sleep is noticed three
 * ways: the socket closes (the server gave up on our heartbeats), a heartbeat goes
 * unacknowledged (a zombie connection), or the timers jump (setInterval fired late by
 * more than a heartbeat), in which case we heartbeat at once to find out. When the
 * session cannot be resumed any more (INVALID_SESSION), we identify again and the app is
 * told through a 'ready' event with `fresh: true`, so it refetches what it shows.
 *
 * Events: 'dispatch' {t, d}, 'ready' {d, fresh}, 'resumed', 'state' (connecting / open /
 * closed), 'fatal' {code} (the token or the request is bad: do not reconnect).
 */

const FATAL = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

export class Gateway extends EventTarget {
  constructor(token, presence) {
    super();
    this.token = token;
    this.presence = presence;
    this.ws = null;
    this.seq = null;
    this.sessionId = null;
    this.resumeUrl = null;
    this.interval = 41250;
    this.beatTimer = 0;
    this.acked = true;
    this.attempt = 0;
    this.stopped = false;
    this.everReady = false;
    this.state = 'closed';
    this.lastTick = Date.now();
    this.watch = setInterval(() => this.checkWake(), 2000);
    this.onOnline = () => this.poke();
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onOnline);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  url() {
    const base = this.resumeUrl || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/gateway`;
    return `${base}?v=10&encoding=json`;
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onmessage = (e) => this.onMessage(ws, e.data);
    ws.onclose = (e) => this.onClose(ws, e.code);
  }

  send(op, d) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ op, d }));
      return true;
    }
    return false;
  }

  onMessage(ws, text) {
    if (ws !== this.ws) return;
    let p;
    try {
      p = JSON.parse(text);
    } catch {
      return;
    }
    if (p.s != null) this.seq = p.s;
    switch (p.op) {
      case 10: // HELLO
        this.interval = p.d.heartbeat_interval;
        this.startBeats();
        if (this.sessionId && this.seq != null) {
          this.send(6, { token: this.token, session_id: this.sessionId, seq: this.seq });
        } else {
          this.identify();
        }
        break;
      case 11: // HEARTBEAT_ACK
        this.acked = true;
        break;
      case 1: // the server asks for a heartbeat
        this.beat();
        break;
      case 7: // RECONNECT
        this.drop(4000);
        break;
      case 9: // INVALID_SESSION: d says whether it is resumable
        if (!p.d) {
          this.sessionId = null;
          this.seq = null;
          this.resumeUrl = null;
        }
        setTimeout(() => {
          if (ws !== this.ws) return;
          if (p.d && this.sessionId) this.send(6, { token: this.token, session_id: this.sessionId, seq: this.seq });
          else this.identify();
        }, 300 + Math.random() * 700);
        break;
      case 0:
        this.onDispatch(p.t, p.d);
        break;
    }
  }

  identify() {
    this.send(2, {
      token: this.token,
      intents: 0x1ffff,
      properties: { os: navigator.platform || 'web', browser: 'Hearth Web', device: '' },
      presence: this.presence,
    });
  }

  onDispatch(t, d) {
    if (t === 'READY') {
      this.sessionId = d.session_id;
      this.resumeUrl = d.resume_gateway_url || null;
      this.attempt = 0;
      this.setState('open');
      const fresh = this.everReady;
      this.everReady = true;
      this.emit('ready', { d, fresh });
      return;
    }
    if (t === 'RESUMED') {
      this.attempt = 0;
      this.setState('open');
      this.emit('resumed');
      return;
    }
    this.emit('dispatch', { t, d });
  }

  startBeats() {
    clearInterval(this.beatTimer);
    this.acked = true;
    // The first beat after a random share of the interval, as Discord asks.
    this.beatTimer = setTimeout(() => {
      this.beat();
      this.beatTimer = setInterval(() => this.beat(), this.interval);
    }, this.interval * Math.random());
  }

  beat() {
    if (!this.acked) {
      // No answer to the last one: the connection is a zombie.
      this.drop(4000);
      return;
    }
    this.acked = false;
    this.send(1, this.seq);
  }

  /* Closes the connection with a resumable code and reconnects. */
  drop(code = 4000) {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close(code);
    } catch {
      /* already closing */
    }
    this.onClose(ws, code);
  }

  onClose(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this.beatTimer);
    clearInterval(this.beatTimer);
    this.setState('closed');
    if (this.stopped) return;
    if (FATAL.has(code)) {
      this.emit('fatal', { code });
      return;
    }
    if (code === 4007 || code === 4009) {
      // 4009 leaves the session resumable; 4007 does not.
      if (code === 4007) this.sessionId = null;
    }
    const delay = Math.min(10000, this.attempt === 0 ? 100 : 500 * 2 ** Math.min(this.attempt, 5));
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /* Timers that fire far too late mean the machine slept: check the connection now. */
  checkWake() {
    const now = Date.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > 10000) this.poke();
  }

  poke() {
    if (this.stopped || document.visibilityState === 'hidden') return;
    if (!this.ws) {
      this.attempt = 0;
      this.connect();
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // One heartbeat now; if it is not acknowledged within 5 s, reconnect and resume.
    this.acked = true;
    this.beat();
    const ws = this.ws;
    setTimeout(() => {
      if (ws === this.ws && !this.acked) this.drop(4000);
    }, 5000);
  }

  updatePresence(presence) {
    this.presence = presence;
    this.send(3, presence);
  }

  requestMembers(guildId) {
    return this.send(8, { guild_id: guildId, query: '', limit: 0, presences: true });
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watch);
    clearTimeout(this.retryTimer);
    clearInterval(this.beatTimer);
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onOnline);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
