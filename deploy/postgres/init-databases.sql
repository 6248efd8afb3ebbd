-- Run once by the postgres image on an empty data directory
-- (mounted into /docker-entrypoint-initdb.d). One database per service;
-- each service creates its own tables with its embedded migrations at start.
CREATE DATABASE candor_account;
CREATE DATABASE candor_notification;
CREATE DATABASE candor_membership;
CREATE DATABASE candor_forum;
