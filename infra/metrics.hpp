#pragma once
/// A small thread-safe Prometheus registry: counters, gauges (set or computed at scrape) and
/// histograms, each a family of series with a fixed set of label names, rendered in the text
/// exposition format 0.0.4.
///
///   auto& requests = registry.add_counter("coachd_http_requests_total", "HTTP requests served.",
///                                         {"route", "method", "status"});
///   requests.with({"get_intake", "GET", "200"}).inc();
///
/// A series is created on first use of its label values and lives as long as the registry
/// (gauges may be removed). References returned by `with` stay valid; updating a series is
/// lock-free (atomics); looking one up takes the family's mutex.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace coachd::metrics {

/// A value that only goes up (requests served, events appended).
class counter {
 public:
  /// Adds `by` (must be >= 0; negative values are ignored).
  void inc(double by = 1.0) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

/// A value that goes up and down, or one computed when scraped (see gauge_family::bind).
class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double by = 1.0) noexcept;
  void dec(double by = 1.0) noexcept { inc(-by); }
  /// The stored value (a callback series is evaluated by render, not here).
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  friend class gauge_family;
  std::atomic<double> value_{0.0};
  std::function<double()> callback_;  // guarded by the family's mutex
};

/// Observations counted into buckets with fixed upper bounds (`le`), plus their sum and count.
class histogram {
 public:
  /// `bounds` must be sorted ascending and outlive the histogram (the family owns them).
  explicit histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;

  /// A consistent-enough copy for rendering: cumulative counts per bound, then +Inf.
  struct snapshot {
    std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries, the last is +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot snap() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
};

/// The seconds buckets Prometheus clients use by default (5 ms .. 10 s).
const std::vector<double>& default_seconds_buckets();

/// Label values of one series, in the order of the family's label names.
using label_values = std::vector<std::string>;

/// What all families share: a name, a help text and label names; rendering.
class family_base {
 public:
  family_base(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~family_base() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual std::string_view type() const = 0;
  /// Appends the HELP/TYPE lines and every series to `out`.
  void render(std::string& out) const;

 protected:
  /// Checks the number of values (throws std::invalid_argument: a programmer error).
  label_values key(std::initializer_list<std::string_view> values) const;
  label_values key(const label_values& values) const;
  virtual void render_series(std::string& out) const = 0;
  /// `name{a="x",b="y"[,extra]} value\n`
  void write_sample(std::string& out, std::string_view suffix, const label_values& values,
                    std::string_view extra_label, std::string_view extra_value, double v) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
};

/// Counters sharing a name and label names.
class counter_family final : public family_base {
 public:
  using family_base::family_base;
  counter& with(std::initializer_list<std::string_view> values);
  counter& with(const label_values& values);
  std::string_view type() const override { return "counter"; }

 private:
  void render_series(std::string& out) const override;
  std::map<label_values, std::unique_ptr<counter>> series_;
};

/// Gauges sharing a name and label names; a series holds a value or a scrape-time callback.
class gauge_family final : public family_base {
 public:
  using family_base::family_base;
  gauge& with(std::initializer_list<std::string_view> values);
  gauge& with(const label_values& values);
  /// Makes the series a callback evaluated at each render (under the family's mutex, so the
  /// callback must not touch this family). Replaces any earlier callback of the series.
  void bind(const label_values& values, std::function<double()> callback);
  /// Drops a series (e.g. when the object a callback reads goes away).
  void remove(const label_values& values);
  std::string_view type() const override { return "gauge"; }

 private:
  gauge& with_locked(label_values key);
  void render_series(std::string& out) const override;
  std::map<label_values, std::unique_ptr<gauge>> series_;
};

/// Histograms sharing a name, label names and bucket bounds.
class histogram_family final : public family_base {
 public:
  histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                   std::vector<double> bounds);
  histogram& with(std::initializer_list<std::string_view> values);
  histogram& with(const label_values& values);
  const std::vector<double>& bounds() const { return bounds_; }
  std::string_view type() const override { return "histogram"; }

 private:
  void render_series(std::string& out) const override;
  std::vector<double> bounds_;
  std::map<label_values, std::unique_ptr<histogram>> series_;
};

/// All metric families of a process (or of a test), rendered together for `/metrics`.
class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Each add_* returns the family of that name, creating it on first call. Asking again with
  /// the same type and label names returns the same family; a different type, label names or
  /// buckets, or an invalid name, throws std::invalid_argument (a programmer error).
  counter_family& add_counter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  gauge_family& add_gauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  histogram_family& add_histogram(std::string name, std::string help,
                                  std::vector<std::string> label_names = {},
                                  std::vector<double> bounds = default_seconds_buckets());
  /// A label-less gauge computed at scrape time.
  void add_callback_gauge(std::string name, std::string help, std::function<double()> callback);

  /// Every family, sorted by name, in the Prometheus text format 0.0.4
  /// (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string render() const;

 private:
  template <typename Family, typename... Extra>
  Family& add(std::string name, std::string help, std::vector<std::string> label_names,
              Extra&&... extra);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<family_base>, std::less<>> families_;
};

/// The process-wide registry that `/metrics` renders.
registry& default_registry();

/// The Content-Type of `registry::render()`'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Formats a sample value as Prometheus does: shortest round-trip form, +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace coachd::metrics
