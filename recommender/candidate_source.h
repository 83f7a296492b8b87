// CandidateSource: one way of proposing items for a request (personalized
// vector search, the blended ranker, buy-again, ...), and the registry that
// maps the configured Source (slot_config.h) to its implementation.
//
// A source reads the per-request state (request_context.h) and returns its
// candidates best first, usually at most RequestContext::fetch_k; it does
// no store I/O (item features are read once for all sources afterwards) and
// never fails except when a vector index search does (its Status).
//
// Adding a source: one file in recommender/sources/ and one line in
// NewDefaultSourceRegistry (candidate_source.cc).
//
// Thread safety: sources and the registry are immutable after construction;
// Generate is const and safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_CANDIDATE_SOURCE_H_
#define RECSYS_RECOMMENDER_CANDIDATE_SOURCE_H_

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "recommender/candidate.h"
#include "recommender/recommender.h"
#include "recommender/request_context.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

class CandidateSource {
 public:
  virtual ~CandidateSource() = default;
  // The source's candidates for `ctx`, best first.
  virtual absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const = 0;
  // True when the source may propose items the user bought.
  virtual bool repurchase() const { return false; }
};

class SourceRegistry {
 public:
  // Replaces any implementation registered for `source`.
  void Register(Source source, std::unique_ptr<const CandidateSource> impl);
  // nullptr when nothing is registered for `source`.
  const CandidateSource* Find(Source source) const;

  // One list per source used by any of ctx's slots, each computed once
  // (empty for a source without implementation). Fails with the first
  // failing source's Status.
  absl::StatusOr<CandidateLists> Generate(const RequestContext& ctx) const;

 private:
  absl::flat_hash_map<Source, std::unique_ptr<const CandidateSource>> sources_;
};

// Every source of slot_config.h's Source enum.
std::unique_ptr<const SourceRegistry> NewDefaultSourceRegistry(const RecommenderOptions& options);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_CANDIDATE_SOURCE_H_
