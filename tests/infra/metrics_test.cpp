// The Prometheus registry: families, labels, histograms, callbacks, the text format, threads.
#define BOOST_TEST_MODULE metrics_test
#include "infra/metrics.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace coachd::metrics;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_registry)

BOOST_AUTO_TEST_CASE(counter_with_labels_renders_help_type_and_samples) {
  registry r;
  auto& requests = r.add_counter("coachd_http_requests_total", "HTTP requests answered",
                                 {"route", "method", "status"});
  requests.with({"get_intake", "GET", "200"}).inc();
  requests.with({"get_intake", "GET", "200"}).inc(2);
  requests.with({"get_intake", "GET", "404"}).inc();
  const auto text = r.render();
  BOOST_TEST(contains(text, "# HELP coachd_http_requests_total HTTP requests answered\n"));
  BOOST_TEST(contains(text, "# TYPE coachd_http_requests_total counter\n"));
  BOOST_TEST(contains(
      text, "coachd_http_requests_total{route=\"get_intake\",method=\"GET\",status=\"200\"} 3\n"));
  BOOST_TEST(contains(
      text, "coachd_http_requests_total{route=\"get_intake\",method=\"GET\",status=\"404\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(counters_ignore_negative_increments) {
  registry r;
  auto& c = r.add_counter("things_total", "Things").with({});
  c.inc(5);
  c.inc(-3);
  BOOST_TEST(c.value() == 5.0);
  BOOST_TEST(contains(r.render(), "things_total 5\n"));
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
  registry r;
  r.add_counter("escaped_total", "Help with \\ and\nnewline", {"v"})
      .with({"quote\" backslash\\ newline\n"})
      .inc();
  const auto text = r.render();
  BOOST_TEST(contains(text, "# HELP escaped_total Help with \\\\ and\\nnewline\n"));
  BOOST_TEST(contains(text, "escaped_total{v=\"quote\\\" backslash\\\\ newline\\n\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(histogram_has_cumulative_buckets_sum_and_count) {
  registry r;
  auto& h = r.add_histogram("latency_seconds", "Latency", {"route"}, {0.1, 0.5, 1});
  auto& series = h.with({"a"});
  series.observe(0.05);
  series.observe(0.1);  // le is inclusive
  series.observe(0.3);
  series.observe(2);
  const auto text = r.render();
  BOOST_TEST(contains(text, "# TYPE latency_seconds histogram\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{route=\"a\",le=\"0.5\"} 3\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{route=\"a\",le=\"1\"} 3\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"));
  BOOST_TEST(contains(text, "latency_seconds_sum{route=\"a\"} 2.45\n"));
  BOOST_TEST(contains(text, "latency_seconds_count{route=\"a\"} 4\n"));
}

BOOST_AUTO_TEST_CASE(histogram_without_labels_uses_default_buckets) {
  registry r;
  r.add_histogram("plain_seconds", "Plain").with({}).observe(0.003);
  const auto text = r.render();
  BOOST_TEST(contains(text, "plain_seconds_bucket{le=\"0.005\"} 1\n"));
  BOOST_TEST(contains(text, "plain_seconds_bucket{le=\"10\"} 1\n"));
  BOOST_TEST(contains(text, "plain_seconds_bucket{le=\"+Inf\"} 1\n"));
  BOOST_TEST(contains(text, "plain_seconds_count 1\n"));
}

BOOST_AUTO_TEST_CASE(gauges_set_move_and_compute_at_scrape) {
  registry r;
  auto& g = r.add_gauge("queue_depth", "Depth", {"queue"});
  g.with({"mail"}).set(7);
  g.with({"mail"}).inc(3);
  g.with({"mail"}).dec();
  double lag = 1;
  g.bind({"lag"}, [&lag] { return lag; });
  r.add_callback_gauge("streams_in_memory", "Streams", [] { return 42.0; });
  lag = 5;
  auto text = r.render();
  BOOST_TEST(contains(text, "# TYPE queue_depth gauge\n"));
  BOOST_TEST(contains(text, "queue_depth{queue=\"mail\"} 9\n"));
  BOOST_TEST(contains(text, "queue_depth{queue=\"lag\"} 5\n"));
  BOOST_TEST(contains(text, "streams_in_memory 42\n"));
  g.remove({"lag"});
  text = r.render();
  BOOST_TEST(!contains(text, "queue=\"lag\""));
}

BOOST_AUTO_TEST_CASE(families_render_sorted_by_name) {
  registry r;
  r.add_counter("b_total", "B").with({}).inc();
  r.add_counter("a_total", "A").with({}).inc();
  const auto text = r.render();
  BOOST_TEST(text.find("a_total") < text.find("b_total"));
}

BOOST_AUTO_TEST_CASE(asking_again_returns_the_same_family) {
  registry r;
  auto& first = r.add_counter("same_total", "Same", {"x"});
  auto& second = r.add_counter("same_total", "Same", {"x"});
  BOOST_TEST(&first == &second);
  auto& h1 = r.add_histogram("same_seconds", "S", {}, {1, 2});
  auto& h2 = r.add_histogram("same_seconds", "S", {}, {1, 2});
  BOOST_TEST(&h1 == &h2);
}

BOOST_AUTO_TEST_CASE(programmer_errors_throw) {
  registry r;
  r.add_counter("taken_total", "Taken", {"x"});
  BOOST_CHECK_THROW(r.add_gauge("taken_total", "Taken", {"x"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_counter("taken_total", "Taken", {"y"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_counter("0bad", "Bad"), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_counter("bad-name", "Bad"), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_counter("ok_total", "Bad label", {"__reserved"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_histogram("h_seconds", "Bad buckets", {}, {2, 1}), std::invalid_argument);
  r.add_histogram("h2_seconds", "H", {}, {1, 2});
  BOOST_CHECK_THROW(r.add_histogram("h2_seconds", "H", {}, {1, 3}), std::invalid_argument);
  BOOST_CHECK_THROW(r.add_counter("taken_total", "Taken", {"x"}).with({"a", "b"}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(values_format_as_prometheus_expects) {
  BOOST_TEST(format_value(1) == "1");
  BOOST_TEST(format_value(0.25) == "0.25");
  BOOST_TEST(format_value(-3) == "-3");
  BOOST_TEST(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  BOOST_TEST(format_value(std::nan("")) == "NaN");
}

BOOST_AUTO_TEST_CASE(concurrent_updates_are_all_counted) {
  registry r;
  auto& c = r.add_counter("hits_total", "Hits", {"t"});
  auto& h = r.add_histogram("work_seconds", "Work", {"t"}, {0.5});
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        c.with({"shared"}).inc();
        h.with({t % 2 == 0 ? "even" : "odd"}).observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  // Rendering while writers run must be safe.
  for (int i = 0; i < 20; ++i) BOOST_TEST(!r.render().empty());
  for (auto& t : pool) t.join();
  BOOST_TEST(c.with({"shared"}).value() == double(threads * per_thread));
  const auto text = r.render();
  BOOST_TEST(contains(text, "work_seconds_count{t=\"even\"} 40000\n"));
  BOOST_TEST(contains(text, "work_seconds_bucket{t=\"even\",le=\"0.5\"} 20000\n"));
  BOOST_TEST(contains(text, "work_seconds_sum{t=\"odd\"} 25000\n"));
}

BOOST_AUTO_TEST_CASE(default_registry_is_one_instance) {
  BOOST_TEST(&default_registry() == &default_registry());
  BOOST_TEST(content_type == "text/plain; version=0.0.4; charset=utf-8");
}

BOOST_AUTO_TEST_SUITE_END()
