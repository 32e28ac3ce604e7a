// Unit tests of the typed messages: each one's JSON as it goes on the wire (its envelope and
// fields), and what decode_message() makes of a frame: the message, or the error naming what is
// wrong with it.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "messages.h"

namespace {

using nlohmann::json;
using namespace lx::service;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Messages, EachEnvelopeAsOnTheWire) {
  EXPECT_EQ(encode(PingRequest{}), json::parse(R"({"v":1,"cmd":"ping"})"));
  EXPECT_EQ(encode(TerminateRequest{{}, "bb"}), json::parse(R"({"v":1,"cmd":"terminate","distro":"bb"})"));
  EXPECT_EQ(encode(ExportRequest{{}, "bb", "/t.tar"}), json::parse(R"({"v":1,"cmd":"export","distro":"bb","path":"/t.tar"})"));
  EXPECT_EQ(encode(EndCommand{}), json::parse(R"({"cmd":"end"})"));
  EXPECT_EQ(encode(ExitEvent{{}, 130, 2, 0}), json::parse(R"({"event":"exit","status":130,"signal":2,"code":0})"));
  EXPECT_EQ(encode(InstalledReply{{}, 42, "/r", true}), json::parse(R"({"ok":true,"size":42,"rootfs":"/r","default":true})"));
  EXPECT_EQ(encode(DoneReply{}), json::parse(R"({"ok":true})"));
  EXPECT_EQ(encode(ErrorReply::from(lx::Error{ENOENT, "gone"})), json::parse(R"({"error":"gone","errno":2})"));
}

TEST(Messages, ListCommandsNamesEveryRequestInOrder) {
  EXPECT_THAT(message_names<AnyRequest>(), ElementsAre("ping", "list-commands", "run", "status", "terminate", "shutdown",
                                                       "install", "import", "export", "uninstall", "list", "default"));
}

TEST(Messages, ARunRequestGoesToTheInstanceAndComesBackTheSame) {
  RunRequest run;
  run.argv = {"/bin/sh", "-c", "echo hi"};
  run.env = {"A=1"};
  run.ignored_signals = {1, 13};
  run.tty = true;
  run.rows = 50;
  LaunchCommand launch;
  launch.request = run;
  json wire = encode(launch);
  EXPECT_EQ(wire["cmd"], "launch");
  EXPECT_EQ(wire["request"]["rows"], 50);
  auto back = decode_message<InstanceCommand>(wire, 4);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(std::holds_alternative<LaunchCommand>(*back));
  EXPECT_EQ(std::get<LaunchCommand>(*back).request, run);
  // The request inside is checked as lxhostd checks it.
  wire["request"]["argv"] = json::array({1});
  auto bad = decode_message<InstanceCommand>(wire, 1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "malformed request: 'argv' is not an array of strings");
  EXPECT_EQ(bad.error().code, EBADMSG);
  auto many = decode_message<InstanceCommand>(encode(launch), 5);
  ASSERT_FALSE(many);
  EXPECT_THAT(many.error().message, HasSubstr("'launch' passes at most 4 fds, not 5"));
}

TEST(Messages, EventsAreDecodedByTheirNameAndAnUnknownOneIsNamed) {
  auto e = decode_message<ClientEvent>(json::parse(R"({"event":"waiting","message":"wait"})"));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(std::get<WaitingEvent>(*e).message, "wait");
  auto started = decode_message<ClientEvent>(json::parse(R"({"event":"started","pid":42})"), 1);
  ASSERT_TRUE(started) << "an event may come with fds";
  EXPECT_EQ(std::get<StartedEvent>(*started).pid, 42);
  auto unknown = decode_message<ClientEvent>(json::parse(R"({"event":"nope"})"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "unknown event 'nope'");
  auto bad = decode_message<ClientEvent>(json::parse(R"({"event":"progress","done":-1})"));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("malformed event: 'done' is not an integer from 0 to"));
  EXPECT_FALSE(is_event(json::parse(R"({"ok":true})")));
}

TEST(Messages, RecordsInsideRepliesAndTheirAbsentFields) {
  StatusReply status;
  InstanceInfo busy;
  busy.name = "host";
  busy.processes.push_back(ProcessInfo{7, 1, 2, 1, "S", "sleep 3"});
  busy.clients = 1;
  InstanceInfo silent;
  silent.name = "bb";
  silent.state = "not answering";
  status.instances = {busy, silent};
  json wire = encode(status);
  EXPECT_EQ(wire["instances"][0]["processes"][0]["command"], "sleep 3");
  EXPECT_EQ(wire["instances"][0]["clients"], 1);
  EXPECT_FALSE(wire["instances"][1].contains("clients")) << "an instance that did not answer has no count";
  auto back = decode<StatusReply>(wire);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->instances[0].processes[0].threads, 2);
  EXPECT_EQ(back->instances[1].clients, std::nullopt);
  // A distro being installed has no source, time or rootfs yet.
  DistroEntry installing;
  installing.name = "bb";
  installing.state = "installing";
  EXPECT_EQ(to_json_value(installing), json::parse(R"({"name":"bb","state":"installing","size":0,"default":false,"running":false})"));
}

TEST(Messages, ErrorRepliesAndALaunchClientsSignal) {
  auto e = reply_error(json::parse(R"({"error":"no","errno":3})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 3);
  EXPECT_EQ(e->message, "no");
  EXPECT_FALSE(reply_error(json::parse(R"({"ok":true})")));
  SignalCommand sig;
  sig.signal = 2;
  EXPECT_EQ(encode(sig), json::parse(R"({"cmd":"signal","signal":2})"));
  auto none = decode_message<std::variant<SignalCommand>>(json::parse(R"({"cmd":"signal"})"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(std::get<SignalCommand>(*none).signal) << "a missing signal is told apart";
  EXPECT_FALSE(decode_message<std::variant<SignalCommand>>(json::parse(R"({"cmd":"signal","signal":"2"})")));
  EXPECT_FALSE(decode_message<std::variant<SignalCommand>>(encode(sig), 1)) << "a signal comes with no fd";
}

TEST(Messages, AnInstancesBackendGoesFromItsInitReplyToStatusAndIsOneOfTheKnownWords) {
  InitReply ready;
  ready.pid = 42;
  ready.backend = "kernel";
  ready.backend_why = "auto: this host lets the user create a user namespace";
  json wire = encode(ready);
  EXPECT_EQ(wire["backend"], "kernel");
  EXPECT_EQ(wire["backend_why"], "auto: this host lets the user create a user namespace");
  auto back = decode<InitReply>(wire);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->backend, "kernel");
  EXPECT_EQ(back->backend_why, ready.backend_why);
  EXPECT_EQ(back->pid, 42);
  // In lx status --json, per instance.
  StatusReply status;
  InstanceInfo info;
  info.name = "host";
  info.backend = "emulated";
  info.backend_why = "instance.backend = emulated (--set instance.backend=emulated)";
  status.instances = {info};
  wire = encode(status);
  EXPECT_EQ(wire["instances"][0]["backend"], "emulated");
  EXPECT_EQ(wire["instances"][0]["backend_why"], info.backend_why);
  auto reply = decode<StatusReply>(wire);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->instances[0].backend, "emulated");
  EXPECT_EQ(reply->instances[0].backend_why, info.backend_why);
  // One that never said (an instance of an older lxhostd) has none; any other word, or not a
  // string, is named as the bad field.
  EXPECT_FALSE(to_json_value(InstanceInfo{}).contains("backend"));
  EXPECT_EQ(decode<InitReply>(json::parse(R"({"ok":true,"pid":1})"))->backend, std::nullopt);
  for (json bad : {json("native"), json(""), json(1), json::array()}) {
    wire["instances"][0]["backend"] = bad;
    auto r = decode<StatusReply>(wire);
    ASSERT_FALSE(r) << bad.dump();
    EXPECT_EQ(r.error().message, "malformed reply: 'backend' is not one of kernel, emulated");
    EXPECT_EQ(r.error().code, EBADMSG);
  }
  json init = encode(ready);
  init["backend"] = "Kernel";
  EXPECT_FALSE(decode<InitReply>(init));
  init["backend_why"] = 7;
  init["backend"] = "kernel";
  auto why = decode<InitReply>(init);
  ASSERT_FALSE(why);
  EXPECT_EQ(why.error().message, "malformed reply: 'backend_why' is not a string");
}

}  // namespace
