#include "tests/testing/trained_shop.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "feature_store/redis_feature_store.h"
#include "tests/testing/child_process.h"

namespace recsys::testing {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<TrainedShop>> TrainedShop::Create(
    const TrainedShopOptions& options) {
  auto shop = std::make_unique<TrainedShop>();
  RedisServerOptions server_options;
  if (!options.redis_password.empty()) {
    server_options.extra_args = {"--requirepass", options.redis_password};
    server_options.auth_password = options.redis_password;
  }
  auto redis = RedisServer::Start(server_options);
  if (!redis.ok()) return redis.status();
  shop->redis = *std::move(redis);
  shop->dir = absl::StrCat(fs::temp_directory_path().string(), "/recsys_", options.name, "_",
                           ::getpid());
  fs::remove_all(shop->dir);
  fs::create_directories(shop->dir);
  const std::string csv = shop->dir + "/shop.csv";
  std::string password_flag;
  if (!options.redis_password.empty()) {
    const std::string password_file = shop->dir + "/redis_password";
    std::ofstream(password_file) << options.redis_password << "\n";
    fs::permissions(password_file, fs::perms::owner_read | fs::perms::owner_write);
    password_flag = " --redis_password_file=" + password_file;
  }
  if (RunCommand(absl::StrCat(options.datagen, " --users=", options.users, " --items=",
                              options.items, " --seed=", options.seed, " --out=", csv, " > ",
                              shop->dir, "/datagen.log 2>&1")) != 0) {
    return absl::InternalError(absl::StrCat("recsys_datagen failed; see ", shop->dir,
                                            "/datagen.log"));
  }
  if (RunCommand(absl::StrCat(options.train, " --input=", csv, " --model_root=", shop->dir,
                              "/models --factors=", options.factors, " --iterations=",
                              options.iterations, " --threads=", options.threads, " --redis=",
                              shop->redis->address(), password_flag, " ", options.train_flags,
                              " > ", shop->dir,
                              "/train.log 2>&1")) != 0) {
    return absl::InternalError(absl::StrCat("recsys_train failed; see ", shop->dir,
                                            "/train.log"));
  }
  model::ModelStoreOptions store_options;
  store_options.root = shop->dir + "/models";
  store_options.poll_interval = absl::ZeroDuration();
  auto models = model::ModelStore::Create(store_options);
  if (!models.ok()) return models.status();
  shop->models = *std::move(models);
  std::ifstream users(shop->models->Current()->path() + "/users.tsv");
  for (std::string line; std::getline(users, line);) shop->users.push_back(line);

  redis::Options redis_options;
  redis_options.host = shop->redis->host();
  redis_options.port = shop->redis->port();
  redis_options.connect_timeout = options.connect_timeout;
  redis_options.reconnect_backoff = options.reconnect_backoff;
  redis_options.password = options.redis_password;
  auto client = redis::Client::Create(redis_options);
  if (!client.ok()) return client.status();
  shop->redis_client = *std::move(client);
  auto features = feature_store::NewRedisFeatureStore(shop->redis_client.get());
  if (!features.ok()) return features.status();
  shop->features = *std::move(features);
  return shop;
}

TrainedShop::~TrainedShop() {
  features.reset();
  redis_client.reset();
  models.reset();
  redis.reset();
  if (!dir.empty()) fs::remove_all(dir);
}

}  // namespace recsys::testing
