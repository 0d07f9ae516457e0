#include "exporters/alerting/notifier.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>

namespace mobasher {

struct Notifier::Receiver {
  Receiver(boost::asio::io_context& io, WebhookConfig c, std::filesystem::path dir, size_t max)
      : cfg(std::move(c)), outbox(std::move(dir), max), retry(io) {}
  WebhookConfig cfg;
  std::unique_ptr<WebhookClient> client;  // null when it could not be built (logged)
  Outbox outbox;
  boost::asio::steady_timer retry;
  Duration backoff{0};
  bool waiting = false;  // a back-off timer is running
  double last_keep_alive = 0;
};

namespace {

// A receiver's answer in one log line: line breaks and quotes escaped, at most 200 bytes.
std::string log_text(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '"' || c == '\\')
      out += {'\\', c};
    else
      out += c;
  }
  return out;
}

}  // namespace

std::filesystem::path outbox_dir(const std::filesystem::path& state_dir, const std::string& name) {
  // Percent-encoding is reversible, so two names never share a directory ("a:b" is "a%3Ab",
  // "a_b" stays); a name of dots only ("." / "..") is encoded whole so it stays inside outbox/.
  bool dots_only = name.find_first_not_of('.') == std::string::npos;
  std::string safe;
  for (unsigned char c : name) {
    if (!dots_only && (std::isalnum(c) || c == '.' || c == '_' || c == '-')) {
      safe += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      safe += hex;
    }
  }
  return state_dir / "outbox" / safe;
}

Notifier::Notifier(boost::asio::io_context& io, const AlertsConfig& cfg,
                   const std::filesystem::path& state_dir, PayloadContext context,
                   NotificationCounts counts, std::function<double()> clock)
    : io_(io),
      max_backoff_(cfg.max_backoff),
      context_(std::move(context)),
      counts_(std::move(counts)),
      clock_(clock ? std::move(clock) : [] {
        return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
            .count();
      }) {
  for (const auto& w : cfg.webhooks) {
    auto r = std::make_unique<Receiver>(io_, w, outbox_dir(state_dir, w.name), cfg.outbox_max);
    for (const char* result : kNotificationResults) counts_[w.name][result] += 0;
    try {
      r->client = std::make_unique<WebhookClient>(
          io_, WebhookTarget{w.name, w.url, w.headers, w.bearer_token_file, w.timeout, w.ca_file,
                             w.insecure_skip_verify});
    } catch (const std::exception& e) {
      spdlog::error("receiver unusable receiver={} error=\"{}\": its outbox is kept", w.name,
                    e.what());
    }
    for (const auto& p : r->outbox.load()) {
      ++counts_[w.name]["corrupt"];
      spdlog::error("outbox file unreadable receiver={} file={} error=\"{}\" kept_as={}", w.name,
                    p.file, p.error, p.kept_as.empty() ? "(not renamed)" : p.kept_as);
    }
    if (size_t dropped = r->outbox.dropped_at_load()) {  // outbox_max was lowered
      counts_[w.name]["dropped"] += dropped;
      spdlog::warn("outbox full receiver={} dropped={} max={}", w.name, dropped, cfg.outbox_max);
    }
    if (r->outbox.size())
      spdlog::info("outbox loaded receiver={} queued={} dir={}", w.name, r->outbox.size(),
                   r->outbox.dir().string());
    // The first keep-alive is due at once: after a restart, Alertmanager may have let the
    // firing alerts expire while the agent was down.
    receivers_.push_back(std::move(r));
  }
  for (auto& r : receivers_) kick(*r);
}

Notifier::~Notifier() = default;

std::map<std::string, size_t> Notifier::queue_lengths() const {
  std::map<std::string, size_t> out;
  for (const auto& r : receivers_) out[r->cfg.name] = r->outbox.size();
  return out;
}

void Notifier::push(Receiver& r, const Notification& n) {
  std::string err;
  bool in_flight = r.client && r.client->in_flight();
  if (size_t dropped = r.outbox.push(n, in_flight, err)) {
    counts_[r.cfg.name]["dropped"] += dropped;
    spdlog::warn("outbox full receiver={} dropped={} max={}", r.cfg.name, dropped, r.outbox.size());
  }
  if (!err.empty())
    spdlog::error("outbox not written receiver={} alert={} error=\"{}\": kept in memory only",
                  r.cfg.name, n.alertname, err);
}

void Notifier::notify(const std::vector<Notification>& ns) {
  if (ns.empty()) return;
  for (auto& r : receivers_) {
    for (const auto& n : ns) push(*r, n);
    kick(*r);
  }
}

void Notifier::keep_alive(const std::function<std::vector<Notification>()>& firing) {
  double now = clock_();
  std::optional<std::vector<Notification>> due;
  for (auto& r : receivers_) {
    // A wall clock stepped back is due at once, or Alertmanager would expire the alerts.
    if (r->cfg.format != WebhookFormat::alertmanager_api ||
        (now >= r->last_keep_alive && now - r->last_keep_alive < kAlertmanagerResendSeconds))
      continue;
    r->last_keep_alive = now;
    if (!due) due = firing();
    for (const auto& n : *due) push(*r, n);
    kick(*r);
  }
}

void Notifier::kick(Receiver& r) {
  if (!r.client || r.client->in_flight() || r.waiting || !r.outbox.front()) return;
  const Outbox::Entry& e = *r.outbox.front();
  PayloadContext ctx = context_;
  ctx.receiver = r.cfg.name;
  ctx.now = clock_();
  uint64_t seq = e.seq;
  // The client never runs the callback after it is destroyed, and the receiver owns it.
  r.client->post(alert_payload(r.cfg.format, e.n, ctx),
                 [this, &r, seq](HttpResult res) { on_result(r, seq, res); });
}

void Notifier::on_result(Receiver& r, uint64_t seq, const HttpResult& res) {
  const Outbox::Entry* e = r.outbox.front();
  if (!e || e->seq != seq) return kick(r);  // the head was dropped meanwhile (outbox full)
  const std::string alert = e->n.alertname;
  const std::string unit = e->n.labels.count("unit") ? e->n.labels.at("unit") : "-";
  auto& counts = counts_[r.cfg.name];
  if (res.status >= 200 && res.status < 300) {
    ++counts["sent"];
    spdlog::info("notification sent receiver={} alert={} unit={} status={} kind={}", r.cfg.name,
                 alert, unit, to_string(e->n.status()), to_string(e->n.kind));
    r.outbox.pop_front();
    r.backoff = Duration(0);
    return kick(r);
  }
  if (res.status >= 400 && res.status < 500 && res.status != 408 && res.status != 429) {
    // The receiver will never take this body; retrying would block every later one.
    ++counts["rejected"];
    std::string kept = r.outbox.pop_front(true);
    spdlog::error(
        "notification rejected receiver={} alert={} unit={} http_status={} body=\"{}\" kept_as={}",
        r.cfg.name, alert, unit, res.status, log_text(res.body), kept.empty() ? "-" : kept);
    r.backoff = Duration(0);
    return kick(r);
  }
  ++counts["failed"];
  r.backoff = r.backoff.count() == 0 ? Duration(1'000) : std::min(r.backoff * 2, max_backoff_);
  std::string error =
      log_text(res.status ? "HTTP " + std::to_string(res.status) + ": " + res.body : res.error);
  spdlog::warn(
      "notification failed receiver={} alert={} unit={} error=\"{}\" retry_in={} queued={}",
      r.cfg.name, alert, unit, error, format_duration(r.backoff), r.outbox.size());
  r.waiting = true;
  r.retry.expires_after(r.backoff);
  r.retry.async_wait([this, &r](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the receiver may be gone, touch nothing
    r.waiting = false;
    kick(r);
  });
}

}  // namespace mobasher
