// Tests of redis/slot.h: CRC16 and hash tags against the values of the
// Redis Cluster specification (the cluster tests compare against a real
// node's CLUSTER KEYSLOT too), and which argument is a command's key.
#include "redis/slot.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace recsys::redis {
namespace {

TEST(SlotTest, Crc16OfTheSpecification) {
  // "CRC16 ... output for '123456789': 31C3" (Redis Cluster specification).
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

TEST(SlotTest, KeySlotsOfKnownKeys) {
  // CLUSTER KEYSLOT of redis-server 7.0.
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);
}

TEST(SlotTest, HashTags) {
  // The specification's examples.
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(HashTagOf("foo{}{bar}"), "foo{}{bar}");  // empty tag: whole key
  EXPECT_EQ(HashTagOf("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(HashTagOf("foo{bar}{zap}"), "bar");
  EXPECT_EQ(HashTagOf("no tag"), "no tag");
  EXPECT_EQ(HashTagOf("open{only"), "open{only");
  // A user's keys share a slot, whatever bytes the id holds.
  for (const std::string& user :
       {std::string("42"), std::string("a:b|c"), std::string("x\0y", 3),
        std::string("we}ird"), std::string("{braced}")}) {
    const std::string tag = "{" + user + "}";
    EXPECT_EQ(KeySlot("rs:u:" + tag + ":pc"), KeySlot("rs:u:" + tag + ":act"))
        << user;
    EXPECT_EQ(KeySlot("rs:g7:u:" + tag + ":pt"),
              KeySlot("rs:ev:" + tag + ":id:e1"))
        << user;
  }
}

TEST(SlotTest, CommandSlotFindsTheKey) {
  EXPECT_EQ(CommandSlot({"GET", "foo"}), KeySlot("foo"));
  EXPECT_EQ(CommandSlot({"hset", "foo", "f", "v"}), KeySlot("foo"));
  EXPECT_EQ(CommandSlot({"EVALSHA", "abc", "2", "{u}a", "{u}b", "arg"}),
            KeySlot("{u}a"));
  EXPECT_EQ(CommandSlot({"EVALSHA", "abc", "0", "arg"}), -1);
  for (const std::vector<std::string>& keyless :
       std::vector<std::vector<std::string>>{{"MULTI"},
                                             {"EXEC"},
                                             {"PING"},
                                             {"SCRIPT", "LOAD", "return 1"},
                                             {"CLUSTER", "SLOTS"},
                                             {"WAIT", "1", "100"}}) {
    EXPECT_EQ(CommandSlot(keyless), -1) << keyless[0];
  }
}

}  // namespace
}  // namespace recsys::redis
