-- Run by mariadbd --init-file at start: the account MYSQL_CHECK logs in with (etc/nat-*.conf).
CREATE USER IF NOT EXISTS 'lvskeeper_check'@'%' IDENTIFIED BY 'example-only';
