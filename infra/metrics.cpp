#include "infra/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace coachd::metrics {

namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__") || name == "le") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        if (quote) {
          out += "\\\"";
        } else {
          out += c;
        }
        break;
      default:
        out += c;
    }
  }
}

void atomic_add(std::atomic<double>& target, double by) noexcept {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void counter::inc(double by) noexcept {
  if (!(by >= 0)) return;
  atomic_add(value_, by);
}

void gauge::inc(double by) noexcept { atomic_add(value_, by); }

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
  // The first bucket whose upper bound is >= v (bounds are inclusive: le).
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  const auto index = static_cast<std::size_t>(it - bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

histogram::snapshot histogram::snap() const {
  snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  // The count is the +Inf bucket, so _count and the buckets always agree.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& default_seconds_buckets() {
  static const std::vector<double> buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,   1.0,  2.5,   5.0,  10.0};
  return buckets;
}

family_base::family_base(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_)) throw std::invalid_argument("invalid metric name: " + name_);
  for (const auto& label : label_names_) {
    if (!valid_label_name(label)) {
      throw std::invalid_argument("invalid label name '" + label + "' in metric " + name_);
    }
  }
}

label_values family_base::key(std::initializer_list<std::string_view> values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values");
  }
  return label_values(values.begin(), values.end());
}

label_values family_base::key(const label_values& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values");
  }
  return values;
}

void family_base::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type();
  out += '\n';
  std::lock_guard lock(mutex_);
  render_series(out);
}

void family_base::write_sample(std::string& out, std::string_view suffix,
                               const label_values& values, std::string_view extra_label,
                               std::string_view extra_value, double v) const {
  out += name_;
  out += suffix;
  if (!values.empty() || !extra_label.empty()) {
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!first) out += ',';
      first = false;
      out += label_names_[i];
      out += "=\"";
      append_escaped(out, values[i], true);
      out += '"';
    }
    if (!extra_label.empty()) {
      if (!first) out += ',';
      out += extra_label;
      out += "=\"";
      append_escaped(out, extra_value, true);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += format_value(v);
  out += '\n';
}

counter& counter_family::with(std::initializer_list<std::string_view> values) {
  return with(key(values));
}

counter& counter_family::with(const label_values& values) {
  label_values k = key(values);
  std::lock_guard lock(mutex_);
  auto& slot = series_[std::move(k)];
  if (!slot) slot = std::make_unique<counter>();
  return *slot;
}

void counter_family::render_series(std::string& out) const {
  for (const auto& [values, series] : series_)
    write_sample(out, "", values, {}, {}, series->value());
}

gauge& gauge_family::with(std::initializer_list<std::string_view> values) {
  label_values k = key(values);
  std::lock_guard lock(mutex_);
  return with_locked(std::move(k));
}

gauge& gauge_family::with(const label_values& values) {
  label_values k = key(values);
  std::lock_guard lock(mutex_);
  return with_locked(std::move(k));
}

gauge& gauge_family::with_locked(label_values k) {
  auto& slot = series_[std::move(k)];
  if (!slot) slot = std::make_unique<gauge>();
  return *slot;
}

void gauge_family::bind(const label_values& values, std::function<double()> callback) {
  label_values k = key(values);
  std::lock_guard lock(mutex_);
  with_locked(std::move(k)).callback_ = std::move(callback);
}

void gauge_family::remove(const label_values& values) {
  std::lock_guard lock(mutex_);
  series_.erase(values);
}

void gauge_family::render_series(std::string& out) const {
  for (const auto& [values, series] : series_) {
    const double v = series->callback_ ? series->callback_() : series->value();
    write_sample(out, "", values, {}, {}, v);
  }
}

histogram_family::histogram_family(std::string name, std::string help,
                                   std::vector<std::string> label_names, std::vector<double> bounds)
    : family_base(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("histogram " + name_ +
                                ": bucket bounds must be finite and strictly increasing");
  }
}

histogram& histogram_family::with(std::initializer_list<std::string_view> values) {
  return with(key(values));
}

histogram& histogram_family::with(const label_values& values) {
  label_values k = key(values);
  std::lock_guard lock(mutex_);
  auto& slot = series_[std::move(k)];
  if (!slot) slot = std::make_unique<histogram>(bounds_);
  return *slot;
}

void histogram_family::render_series(std::string& out) const {
  for (const auto& [values, series] : series_) {
    const auto s = series->snap();
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      write_sample(out, "_bucket", values, "le", format_value(bounds_[i]),
                   static_cast<double>(s.cumulative[i]));
    }
    write_sample(out, "_bucket", values, "le", "+Inf", static_cast<double>(s.cumulative.back()));
    write_sample(out, "_sum", values, {}, {}, s.sum);
    write_sample(out, "_count", values, {}, {}, static_cast<double>(s.count));
  }
}

template <typename Family, typename... Extra>
Family& registry::add(std::string name, std::string help, std::vector<std::string> label_names,
                      Extra&&... extra) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<Family*>(it->second.get());
    if (existing == nullptr || existing->label_names() != label_names) {
      throw std::invalid_argument("metric " + name +
                                  " is already registered with another type or labels");
    }
    if constexpr (std::is_same_v<Family, histogram_family>) {
      if (((existing->bounds() != extra) || ...)) {
        throw std::invalid_argument("histogram " + name +
                                    " is already registered with other buckets");
      }
    }
    return *existing;
  }
  auto family = std::make_unique<Family>(name, std::move(help), std::move(label_names),
                                         std::forward<Extra>(extra)...);
  auto& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  return ref;
}

counter_family& registry::add_counter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return add<counter_family>(std::move(name), std::move(help), std::move(label_names));
}

gauge_family& registry::add_gauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return add<gauge_family>(std::move(name), std::move(help), std::move(label_names));
}

histogram_family& registry::add_histogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  return add<histogram_family>(std::move(name), std::move(help), std::move(label_names),
                               std::move(bounds));
}

void registry::add_callback_gauge(std::string name, std::string help,
                                  std::function<double()> callback) {
  add_gauge(std::move(name), std::move(help)).bind({}, std::move(callback));
}

std::string registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

registry& default_registry() {
  static registry instance;
  return instance;
}

}  // namespace coachd::metrics
